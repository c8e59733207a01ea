// Runs a user's TypeScript/JavaScript ingest function in its own Node process (see js-runner.ts).
// The job (JSON) arrives on stdin; the result leaves on fd 3; console output goes to stdout/stderr.
import { Buffer } from 'node:buffer';
import net from 'node:net';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

function toJson(result) {
  // JSON has no NaN or Infinity: name them so the validator can reject them by name.
  return JSON.stringify(result, (_key, value) => {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    }
    if (typeof value === 'bigint') {
      return value.toString();
    }
    return value;
  });
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const out = new net.Socket({ fd: 3, readable: false, writable: true });
  const send = (result) =>
    new Promise((resolve) => {
      let text;
      try {
        text = toJson(result);
      } catch (error) {
        text = JSON.stringify({ ok: false, kind: 'bad_result', message: `result is not serialisable: ${error?.message ?? error}` });
      }
      out.end(text, resolve);
    });
  const job = await readStdin();
  let result;
  try {
    const mod = await import(pathToFileURL(job.path).href);
    const ingest = typeof mod.ingest === 'function' ? mod.ingest : mod.default?.ingest;
    if (typeof ingest !== 'function') {
      result = { ok: false, kind: 'bad_result', message: 'the module does not export a function ingest()' };
    } else {
      const rows = await ingest(job.params ?? {});
      if (!Array.isArray(rows)) {
        result = { ok: false, kind: 'bad_result', message: `ingest() returned ${rows === null ? 'null' : typeof rows}; expected an array of row objects` };
      } else {
        result = { ok: true, rows };
      }
    }
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    result = { ok: false, kind: 'exception', message, traceback: error instanceof Error ? (error.stack ?? '') : '' };
  }
  await send(result);
  // Open handles the function left (timers, sockets) must not keep the run alive until the time limit.
  process.exit(0);
}

await main();
