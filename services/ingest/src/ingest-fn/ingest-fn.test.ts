import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { validateIngestRows } from '../validate-rows.js';
import { IngestInputError, IngestRunnerSetupError } from './errors.js';
import {
  closeIngestRunners,
  runIngestFn,
  type IngestFnSpec,
  type IngestFnRunOptions,
} from './index.js';

// Debian's interpreter has pandas; the first python3 on PATH may not (see the pandas-missing test).
const PYTHON = process.env.ANOMSTACK_TEST_PYTHON ?? '/usr/bin/python3';
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/ingest/', import.meta.url));

interface Captured {
  lines: { stream: 'stdout' | 'stderr'; line: string }[];
  opts: IngestFnRunOptions;
}

function capture(mode: 'warm' | 'cold', extra: Partial<IngestFnRunOptions> = {}): Captured {
  const lines: Captured['lines'] = [];
  return { lines, opts: { python: PYTHON, log: (stream, line) => lines.push({ stream, line }), pythonMode: mode, ...extra } };
}

function python(source: string, overrides: Partial<IngestFnSpec> = {}): IngestFnSpec {
  return { batch: 'test_batch', language: 'python', source, params: {}, timeoutMs: 20_000, memoryMb: 512, ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the run to fail');
}

/** True while the process exists and is not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

afterAll(async () => {
  await closeIngestRunners();
});

/** Live processes whose command line contains `text` (a unique sleep duration). */
function processesWith(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) {
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(text) && isAlive(Number(entry))) {
          found.push(Number(entry));
        }
      } catch {
        // gone
      }
    }
  }
  return found;
}

/** Issue 14 item 7: strays in a new session (setsid, start_new_session, detached) outlived the run. */
async function expectNoStrays(marker: string): Promise<void> {
  try {
    await vi.waitFor(() => expect(processesWith(marker)).toEqual([]), { timeout: 5000, interval: 50 });
  } finally {
    for (const pid of processesWith(marker)) {
      process.kill(pid, 'SIGKILL');
    }
  }
}
const strayMarker = (): string => `302.${Math.floor(Math.random() * 1e9)}`;

/**
 * Issue 14 item 8: a worker's environment as compose gives it, secrets included. Functions get
 * the allow-list and the ANOMSTACK_INGEST_ENV_ variables only.
 */
const SECRETS = {
  ANOMSTACK_ADMIN_TOKEN: 'admin-token-secret-0123456789',
  ANOMSTACK_DATABASE_URL: 'postgres://postgres:dbsecret@db/anomstack',
  DATABASE_URL: 'postgres://postgres:dbsecret@db/anomstack',
  ANOMSTACK_REDIS_URL: 'redis://:redissecret@redis:6379',
  ANOMSTACK_ALERT_EMAIL_PASSWORD: 'smtp-secret',
  ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-slack-secret',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
};
const WORKER_ENV = {
  ...SECRETS,
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/home/anomstack',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  PYTHONDONTWRITEBYTECODE: '1',
  ANOMSTACK_INGEST_ENV_API_KEY: 'the-batch-api-key',
  // Passed through under its own name, but never as one of ours.
  ANOMSTACK_INGEST_ENV_ANOMSTACK_ADMIN_TOKEN: 'not-passed',
};
const FUNCTION_ENV = {
  PATH: WORKER_ENV.PATH,
  HOME: '/home/anomstack',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  PYTHONDONTWRITEBYTECODE: '1',
  API_KEY: 'the-batch-api-key',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
};
/** What the function saw, as rows of (name, value): exactly the allowed variables, no secret anywhere. */
function expectAllowListed(rows: Record<string, unknown>[]): void {
  const { ANOMSTACK_INGEST_RUN: runId, ...seen } = Object.fromEntries(rows.map((r) => [r.metric_name, r.value]));
  expect(seen).toEqual(FUNCTION_ENV);
  // The run's own marker (see killMarked), not a secret.
  expect(runId).toMatch(/^[0-9a-f-]{36}$/);
  const text = JSON.stringify(rows);
  for (const secret of [...Object.values(SECRETS), 'not-passed']) {
    expect(text).not.toContain(secret);
  }
}

describe.each(['warm', 'cold'] as const)('python ingest functions (%s)', (mode) => {
  it('returns the rows of a DataFrame, tz-aware timestamps as UTC ISO text and naive ones naive', async () => {
    const { opts } = capture(mode);
    const rows = await runIngestFn(
      python(`
import pandas as pd
def ingest():
    df = pd.DataFrame({"metric_name": ["a", "b"], "metric_value": [1.5, 2]})
    df["metric_timestamp"] = pd.Timestamp("2024-05-01 12:00:00", tz="Europe/Paris")
    df["naive"] = pd.Timestamp("2024-05-01 12:00:00")
    return df
`),
      opts,
    );
    expect(rows).toEqual([
      { metric_name: 'a', metric_value: 1.5, metric_timestamp: '2024-05-01T10:00:00.000Z', naive: '2024-05-01T12:00:00.000' },
      { metric_name: 'b', metric_value: 2, metric_timestamp: '2024-05-01T10:00:00.000Z', naive: '2024-05-01T12:00:00.000' },
    ]);
  });

  it('accepts a list of dicts and a dict of lists, with numpy values converted', async () => {
    const { opts } = capture(mode);
    const listRows = await runIngestFn(
      python(`
import numpy as np, datetime
def ingest():
    return [{"metric_name": "x", "metric_value": np.float32(0.5), "metric_timestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc), "n": np.int64(7)}]
`),
      opts,
    );
    expect(listRows).toEqual([{ metric_name: 'x', metric_value: 0.5, metric_timestamp: '2024-01-01T00:00:00+00:00', n: 7 }]);
    const dictRows = await runIngestFn(
      python(`
def ingest():
    return {"metric_name": ["p", "q"], "metric_value": [1, 2], "metric_timestamp": ["2024-01-01", "2024-01-02"]}
`),
      opts,
    );
    expect(dictRows).toEqual([
      { metric_name: 'p', metric_value: 1, metric_timestamp: '2024-01-01' },
      { metric_name: 'q', metric_value: 2, metric_timestamp: '2024-01-02' },
    ]);
  });

  it('passes params as keyword arguments', async () => {
    const { opts } = capture(mode);
    const rows = await runIngestFn(
      python(
        `
def ingest(top_n=10, label="none"):
    return [{"metric_name": f"{label}_{top_n}", "metric_value": top_n, "metric_timestamp": "2024-01-01T00:00:00Z"}]
`,
        { params: { top_n: 3, label: 'k' } },
      ),
      opts,
    );
    expect(rows).toEqual([{ metric_name: 'k_3', metric_value: 3, metric_timestamp: '2024-01-01T00:00:00Z' }]);
  });

  it('sends print() output to the log line by line without touching the result', async () => {
    const { opts, lines } = capture(mode);
    const rows = await runIngestFn(
      python(`
import sys, os
def ingest():
    print("first line")
    print('{"ok": true, "rows": []}')
    sys.stdout.write("no newline at the end")
    print("to stderr", file=sys.stderr)
    os.write(1, b"raw fd write\\n")
    return [{"metric_name": "m", "metric_value": 1, "metric_timestamp": "2024-01-01"}]
`),
      opts,
    );
    expect(rows).toEqual([{ metric_name: 'm', metric_value: 1, metric_timestamp: '2024-01-01' }]);
    const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(stdout).toContain('first line');
    expect(stdout).toContain('{"ok": true, "rows": []}');
    expect(stdout.join('\n')).toContain('no newline at the end');
    expect(stdout.join('\n')).toContain('raw fd write');
    expect(lines).toContainEqual({ stream: 'stderr', line: 'to stderr' });
  });

  it('reports an exception with the Python traceback', async () => {
    const { opts } = capture(mode);
    const error = await rejection(
      runIngestFn(
        python(`
def helper():
    raise ValueError("the API said no")

def ingest():
    helper()
`),
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toContain('batch "test_batch"');
    expect(error.message).toContain('ValueError: the API said no');
    expect(error.message).toContain('Traceback');
    expect(error.message).toContain('in helper');
    expect(error.message).toContain('raise ValueError("the API said no")');
    expect(error.message).not.toContain('harness.py');
  });

  it('rejects source without ingest() and results that are not rows', async () => {
    const { opts } = capture(mode);
    const noFn = await rejection(runIngestFn(python('x = 1\n'), opts));
    expect(noFn).toBeInstanceOf(IngestInputError);
    expect(noFn.message).toContain('does not define a function ingest()');
    const none = await rejection(runIngestFn(python('def ingest():\n    return None\n'), opts));
    expect(none.message).toContain('returned None');
    const number = await rejection(runIngestFn(python('def ingest():\n    return 42\n'), opts));
    expect(number.message).toContain('returned a int');
  });

  it('kills a function that hangs at the time limit, with everything it started', async () => {
    const { opts, lines } = capture(mode);
    const timeoutMs = 3_000;
    const started = Date.now();
    const error = await rejection(
      runIngestFn(
        python(
          `
import os, subprocess, time
def ingest():
    child = subprocess.Popen(["sleep", "300"])
    print("pids", os.getpid(), child.pid, flush=True)
    while True:
        time.sleep(0.05)
`,
          { timeoutMs },
        ),
        opts,
      ),
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toBe('batch "test_batch": ingest function timed out after 3 s');
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    // Ends at the limit, not when the function would (never): the bound leaves room for a loaded machine.
    expect(elapsed).toBeLessThan(timeoutMs + 30_000);
    const pidLine = lines.find((l) => l.line.startsWith('pids '));
    expect(pidLine).toBeDefined();
    const pids = pidLine!.line.split(' ').slice(1).map(Number);
    expect(pids).toHaveLength(2);
    // The run's process is reaped before the promise settles; the orphaned grandchild is
    // SIGKILLed with the group and may take a moment to be reaped by init.
    expect(isAlive(pids[0]!)).toBe(false);
    await expect.poll(() => isAlive(pids[1]!), { timeout: 5_000 }).toBe(false);
  });

  it('kills a function that allocates without bound', async () => {
    const { opts } = capture(mode);
    const error = await rejection(
      runIngestFn(
        python(
          `
def ingest():
    chunks = []
    while True:
        chunks.append(b"x" * 10_000_000)
`,
          { memoryMb: 300 },
        ),
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toContain('exceeded memory limit 300 MiB');
    const numpy = await rejection(
      runIngestFn(python('import numpy as np\ndef ingest():\n    return np.ones((100_000, 10_000))\n', { memoryMb: 300 }), opts),
    );
    expect(numpy.message).toContain('exceeded memory limit 300 MiB');
  });

  // Issue 14 item 6: RLIMIT_DATA does not count shared mappings (7 GB RSS under 256 MB).
  it('kills a function whose shared mmap takes the process tree over ingest_memory_mb', async () => {
    const { opts } = capture(mode);
    const error = await rejection(
      runIngestFn(
        python(
          `
import mmap
import pandas as pd
def ingest():
    blocks = []
    for _ in range(24):  # 1.5 GiB of MAP_SHARED anonymous memory, every page touched
        block = mmap.mmap(-1, 64 * 1024 * 1024)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        blocks.append(block)
    return pd.DataFrame({"metric_name": ["mmap"], "metric_value": [len(blocks)], "metric_timestamp": [pd.Timestamp("2024-01-01")]})
`,
          { memoryMb: 256 },
        ),
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toMatch(/exceeded memory limit 256 MiB \(its processes used \d+ MiB\): killed/);
  });

  it('counts the memory of the processes a function starts', async () => {
    const { opts } = capture(mode);
    const error = await rejection(
      runIngestFn(
        python(
          `
import subprocess, sys
def ingest():
    code = "import mmap, time\\nm = mmap.mmap(-1, 1 << 30)\\nfor i in range(0, len(m), 4096): m[i] = 1\\ntime.sleep(60)"
    subprocess.run([sys.executable, "-c", code], start_new_session=True)
    return None
`,
          { memoryMb: 256 },
        ),
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toContain('exceeded memory limit 256 MiB');
  });

  it('lets numpy and pandas work under the memory limit', async () => {
    const { opts } = capture(mode);
    const rows = await runIngestFn(
      python(
        `
import numpy as np, pandas as pd
def ingest():
    a = np.random.rand(500, 500)
    v = float((a @ a).sum())
    return pd.DataFrame({"metric_name": ["blas"], "metric_value": [v], "metric_timestamp": [pd.Timestamp("2024-01-01")]})
`,
        { memoryMb: 256 },
      ),
      opts,
    );
    expect(rows).toHaveLength(1);
  });

  it('hands NaN and infinity over by name, and the validator rejects them', async () => {
    const { opts } = capture(mode);
    const rows = await runIngestFn(
      python(`
import pandas as pd, numpy as np
def ingest():
    return pd.DataFrame({"metric_name": ["a", "b", "c"], "metric_value": [np.nan, np.inf, 1.0], "metric_timestamp": pd.Timestamp("2024-01-01", tz="UTC")})
`),
      opts,
    );
    expect(rows.map((r) => r.metric_value)).toEqual(['NaN', 'Infinity', 1]);
    expect(() => validateIngestRows('test_batch', rows, { rounding: 4 })).toThrow(
      'batch "test_batch": row 0: metric_value: NaN is not a finite number; row 1: metric_value: Infinity is not a finite number',
    );
  });

  it('rejects a string value naming the row, and averages duplicate rows', async () => {
    const { opts } = capture(mode);
    const bad = await runIngestFn(
      python(`
def ingest():
    return [{"metric_name": "a", "metric_value": "3.5", "metric_timestamp": "2024-01-01"},
            {"metric_name": "b", "metric_value": "abc", "metric_timestamp": "2024-01-01"}]
`),
      opts,
    );
    expect(() => validateIngestRows('test_batch', bad, { rounding: 4 })).toThrow(
      'batch "test_batch": row 1: metric_value: "abc" is not a number',
    );
    const duplicates = await runIngestFn(
      python(`
import pandas as pd
def ingest():
    t = pd.Timestamp("2024-01-01 00:00", tz="UTC")
    return pd.DataFrame({"metric_name": ["a", "a", "b"], "metric_value": [1.0, 2.0, 5.0], "metric_timestamp": [t, t, t]})
`),
      opts,
    );
    const { rows, warnings } = validateIngestRows('test_batch', duplicates, { rounding: 4 });
    expect(rows.map((r) => [r.metric_name, r.metric_value])).toEqual([
      ['a', 1.5],
      ['b', 5],
    ]);
    expect(warnings.join('\n')).toContain('1 duplicate (metric_name, metric_timestamp) rows averaged');
  });

  it('reads naive timestamps as UTC and keeps the offset of tz-aware ones', async () => {
    const { opts } = capture(mode);
    const raw = await runIngestFn(
      python(`
import pandas as pd
def ingest():
    return pd.DataFrame({
        "metric_name": ["naive", "aware"],
        "metric_value": [1, 2],
        "metric_timestamp": [pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-01 10:00", tz="America/New_York")],
    })
`),
      opts,
    );
    const { rows } = validateIngestRows('test_batch', raw, { rounding: 4 });
    expect(rows.map((r) => r.metric_timestamp.toISOString())).toEqual(['2024-03-01T10:00:00.000Z', '2024-03-01T15:00:00.000Z']);
  });

  it('runs concurrent calls in isolation, each with its own log', async () => {
    const runs = [1, 2, 3, 4].map(async (n) => {
      const { opts, lines } = capture(mode);
      const rows = await runIngestFn(
        python(
          `
import pandas as pd
STATE = []
def ingest(n):
    pd.options.display.max_rows = n   # module state a previous run might have left behind
    STATE.append(n)
    print("run", n, len(STATE))
    return [{"metric_name": f"m{n}", "metric_value": n, "metric_timestamp": "2024-01-01"}]
`,
          { params: { n } },
        ),
        opts,
      );
      return { n, rows, lines: lines.map((l) => l.line) };
    });
    for (const { n, rows, lines } of await Promise.all(runs)) {
      expect(rows).toEqual([{ metric_name: `m${n}`, metric_value: n, metric_timestamp: '2024-01-01' }]);
      expect(lines).toEqual([`run ${n} 1`]);
    }
  });

  it('passes an allow-list of the environment (PATH, HOME, LANG, LC_*, TZ, PYTHON*) and ANOMSTACK_INGEST_ENV_<NAME> as <NAME>, no secrets', async () => {
    const { opts } = capture(mode, { env: WORKER_ENV });
    const rows = await runIngestFn(
      python(`
import os
def ingest():
    return [{"metric_name": k, "metric_value": 1, "metric_timestamp": "2024-01-01", "value": v} for k, v in os.environ.items()]
`),
      opts,
    );
    expectAllowListed(rows);
  });

  it('keeps secrets out of the processes a function can read: its parent, the fork server', async () => {
    // The fork server starts from the worker's own environment: give that the secrets.
    await closeIngestRunners();
    const saved = { ...process.env };
    Object.assign(process.env, SECRETS);
    try {
      const { opts } = capture(mode, { env: WORKER_ENV });
      const rows = await runIngestFn(
        python(`
import os
def ingest():
    with open(f"/proc/{os.getppid()}/environ", "rb") as f:
        parent = f.read().decode("utf8", "replace")
    return [{"metric_name": "parent", "metric_value": 1, "metric_timestamp": "2024-01-01", "environ": parent}]
`),
        opts,
      );
      // Cold runs' parent is this (test) process, which has them: only the warm server can be judged.
      if (mode === 'warm') {
        for (const secret of Object.values(SECRETS)) {
          expect(String(rows[0]?.environ)).not.toContain(secret);
        }
      }
    } finally {
      for (const key of Object.keys(SECRETS)) {
        if (saved[key] === undefined) {
          delete process.env[key];
        } else {
          process.env[key] = saved[key];
        }
      }
      await closeIngestRunners();
    }
  });

  it('kills everything the function started at the end of the run, new sessions included', async () => {
    const marker = strayMarker();
    const { opts } = capture(mode);
    const rows = await runIngestFn(
      python(`
import os, subprocess
def ingest():
    subprocess.Popen(["sleep", "${marker}"], start_new_session=True)
    os.system("setsid sleep ${marker} &")
    if os.fork() == 0:
        os.setsid()
        os.execvp("sleep", ["sleep", "${marker}"])
    return [{"metric_name": "m", "metric_value": 1, "metric_timestamp": "2024-01-01"}]
`),
      opts,
    );
    expect(rows).toHaveLength(1);
    await expectNoStrays(marker);
  });

  it('passes the environment given in the options', async () => {
    const { opts } = capture(mode, { env: { ANOMSTACK_INGEST_ENV_ONLY_THIS: 'yes', PATH: process.env.PATH } });
    const rows = await runIngestFn(
      python(`
import os
def ingest():
    return [{"metric_name": "env", "metric_value": len(os.environ.get("ONLY_THIS", "")), "metric_timestamp": "2024-01-01", "home": os.environ.get("HOME")}]
`),
      opts,
    );
    expect(rows).toEqual([{ metric_name: 'env', metric_value: 3, metric_timestamp: '2024-01-01', home: null }]);
  });

  it('names ANOMSTACK_PYTHON when the interpreter is missing', async () => {
    const { opts } = capture(mode, { python: '/nonexistent/bin/python3' });
    const error = await rejection(runIngestFn(python('def ingest():\n    return []\n'), opts));
    expect(error).toBeInstanceOf(IngestRunnerSetupError);
    expect(error.message).toContain('"/nonexistent/bin/python3" (ANOMSTACK_PYTHON)');
  });

  it('names ANOMSTACK_PYTHON when the interpreter has no pandas', async () => {
    const { opts } = capture(mode, { python: `${FIXTURES}python_without_pandas.sh` });
    const error = await rejection(runIngestFn(python('def ingest():\n    return []\n'), opts));
    expect(error).toBeInstanceOf(IngestRunnerSetupError);
    expect(error.message).toContain('(ANOMSTACK_PYTHON) cannot import pandas');
  });

  it('runs the HackerNews example against a stand-in for the HN API', async () => {
    const scores: Record<number, number> = { 1: 10, 2: 30, 3: 20 };
    const requests: string[] = [];
    const server: Server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const item = /^\/v0\/item\/(\d+)\.json$/.exec(request.url ?? '');
      response.setHeader('content-type', 'application/json');
      if (request.url === '/v0/topstories.json') {
        response.end(JSON.stringify([1, 2, 3, 4]));
      } else if (item) {
        response.end(JSON.stringify({ id: Number(item[1]), score: scores[Number(item[1])] }));
      } else {
        response.statusCode = 404;
        response.end('null');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      // The example batch's own file, as users get it.
      const path = fileURLToPath(new URL('../../../../metrics/examples/hackernews/hn_top_stories_scores.py', import.meta.url));
      const { opts } = capture(mode, {
        env: { ...process.env, ANOMSTACK_INGEST_ENV_HN_API_URL: `http://127.0.0.1:${port}/v0`, ANOMSTACK_INGEST_ENV_NO_PROXY: '127.0.0.1', ANOMSTACK_INGEST_ENV_no_proxy: '127.0.0.1' },
      });
      const raw = await runIngestFn(
        python(readFileSync(path, 'utf8'), { path, params: { top_n: 3 }, batch: 'hn_top_stories_scores' }),
        opts,
      );
      const { rows, warnings } = validateIngestRows('hn_top_stories_scores', raw, { rounding: 4 });
      expect(warnings).toEqual([]);
      expect(Object.fromEntries(rows.map((r) => [r.metric_name, r.metric_value]))).toEqual({
        hn_top_3_min_score: 10,
        hn_top_3_max_score: 30,
        hn_top_3_avg_score: 20,
        hn_top_3_total_score: 60,
      });
      expect(Math.abs(rows[0]!.metric_timestamp.getTime() - Date.now())).toBeLessThan(60_000);
      expect(requests).toEqual(['/v0/topstories.json', '/v0/item/1.json', '/v0/item/2.json', '/v0/item/3.json']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('warm python runner', () => {
  it('is restarted after it dies', async () => {
    const { opts } = capture('warm');
    const killer = await rejection(
      runIngestFn(python('import os, signal\ndef ingest():\n    os.kill(os.getppid(), signal.SIGKILL)\n    import time; time.sleep(30)\n'), opts),
    );
    expect(killer.message).toContain('warm Python runner');
    const rows = await runIngestFn(
      python('def ingest():\n    return [{"metric_name": "m", "metric_value": 1, "metric_timestamp": "2024-01-01"}]\n'),
      opts,
    );
    expect(rows).toHaveLength(1);
  });

  it('stops a run when its signal aborts', async () => {
    const controller = new AbortController();
    const { opts, lines } = capture('warm', { signal: controller.signal });
    const run = runIngestFn(python('import time\ndef ingest():\n    print("started", flush=True)\n    time.sleep(60)\n'), opts);
    await expect.poll(() => lines.length, { timeout: 10_000 }).toBeGreaterThan(0);
    controller.abort(new Error('shutting down'));
    await expect(run).rejects.toThrow('shutting down');
  });
});

describe('typescript and javascript ingest functions', () => {
  const base = { batch: 'test_batch', params: {}, timeoutMs: 20_000, memoryMb: 256 } as const;
  // Files with relative imports, as a metrics directory would hold them (written here rather
  // than kept under test/fixtures so that lint and typecheck do not pick them up).
  const dir = mkdtempSync(join(tmpdir(), 'anomstack-ingest-fn-test-'));
  const files: Record<string, string> = {
    'ts_helper.ts': `export function scale(value: number, factor: number): number {
  return value * factor;
}
`,
    'ts_with_import.ts': `import { scale } from './ts_helper.js';

interface Params {
  factor: number;
}

export function ingest(params: Params): { metric_name: string; metric_value: number; metric_timestamp: string }[] {
  console.error('ts ingest on stderr');
  return [{ metric_name: 'ts_metric', metric_value: scale(2, params.factor), metric_timestamp: '2024-01-01T00:00:00Z' }];
}
`,
    'js_helper.mjs': `export function makeRows(prefix, n) {
  return Array.from({ length: n }, (_, i) => ({ metric_name: prefix + '_' + i, metric_value: i + 0.5, metric_timestamp: new Date(Date.UTC(2024, 0, 1, 0, i)) }));
}
`,
    'js_with_import.mjs': `import { makeRows } from './js_helper.mjs';

export async function ingest(params) {
  console.log('js ingest called with', JSON.stringify(params));
  return makeRows(params.prefix ?? 'js', params.n ?? 2);
}
`,
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the same allow-list to TypeScript and JavaScript functions, no secrets', async () => {
    for (const language of ['typescript', 'javascript'] as const) {
      const { opts } = capture('warm', { env: WORKER_ENV });
      const rows = await runIngestFn(
        {
          ...base,
          language,
          source: `export function ingest() {
  return Object.entries(process.env).map(([k, v]) => ({ metric_name: k, metric_value: 1, metric_timestamp: '2024-01-01', value: v }));
}
`,
        },
        opts,
      );
      expectAllowListed(rows);
    }
  });

  it('kills detached and setsid children of a TypeScript function at the end of the run', async () => {
    const marker = strayMarker();
    const { opts } = capture('warm');
    await runIngestFn(
      {
        ...base,
        language: 'typescript',
        source: `import { spawn } from 'node:child_process';
export function ingest() {
  spawn('sleep', ['${marker}'], { detached: true, stdio: 'ignore' }).unref();
  spawn('setsid', ['sleep', '${marker}'], { stdio: 'ignore' }).unref();
  return [{ metric_name: 'm', metric_value: 1, metric_timestamp: '2024-01-01' }];
}
`,
      },
      opts,
    );
    await expectNoStrays(marker);
  });

  it('runs a TypeScript function from source', async () => {
    const { opts, lines } = capture('warm');
    const rows = await runIngestFn(
      {
        ...base,
        language: 'typescript',
        params: { n: 2 },
        source: `
interface Params { n: number }
export async function ingest(params: Params): Promise<Record<string, unknown>[]> {
  console.log('making', params.n, 'rows');
  return Array.from({ length: params.n }, (_, i) => ({ metric_name: 'ts_' + i, metric_value: i, metric_timestamp: new Date(Date.UTC(2024, 0, 1)) }));
}
`,
      },
      opts,
    );
    expect(rows).toEqual([
      { metric_name: 'ts_0', metric_value: 0, metric_timestamp: '2024-01-01T00:00:00.000Z' },
      { metric_name: 'ts_1', metric_value: 1, metric_timestamp: '2024-01-01T00:00:00.000Z' },
    ]);
    expect(lines).toEqual([{ stream: 'stdout', line: 'making 2 rows' }]);
  });

  it('runs a TypeScript file with a relative import', async () => {
    const { opts, lines } = capture('warm');
    const path = join(dir, 'ts_with_import.ts');
    const rows = await runIngestFn(
      { ...base, language: 'typescript', path, source: readFileSync(path, 'utf8'), params: { factor: 21 } },
      opts,
    );
    expect(rows).toEqual([{ metric_name: 'ts_metric', metric_value: 42, metric_timestamp: '2024-01-01T00:00:00Z' }]);
    expect(lines).toEqual([{ stream: 'stderr', line: 'ts ingest on stderr' }]);
  });

  it('runs a JavaScript file with a relative import, and a JavaScript source', async () => {
    const { opts } = capture('warm');
    const path = join(dir, 'js_with_import.mjs');
    const rows = await runIngestFn(
      { ...base, language: 'javascript', path, source: readFileSync(path, 'utf8'), params: { prefix: 'p', n: 2 } },
      opts,
    );
    expect(rows.map((r) => r.metric_name)).toEqual(['p_0', 'p_1']);
    const fromSource = await runIngestFn(
      {
        ...base,
        language: 'javascript',
        source: 'export function ingest() { return [{ metric_name: "j", metric_value: NaN, metric_timestamp: 0 }]; }',
      },
      opts,
    );
    expect(fromSource).toEqual([{ metric_name: 'j', metric_value: 'NaN', metric_timestamp: 0 }]);
  });

  it('reports a thrown error with its stack', async () => {
    const { opts } = capture('warm');
    const error = await rejection(
      runIngestFn({ ...base, language: 'typescript', source: 'export function ingest(): never { throw new TypeError("bad token"); }' }, opts),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toContain('TypeError: bad token');
  });

  it('kills a TypeScript function that hangs at the time limit', async () => {
    const { opts, lines } = capture('warm');
    const timeoutMs = 3_000;
    const started = Date.now();
    const error = await rejection(
      runIngestFn(
        {
          ...base,
          timeoutMs,
          language: 'typescript',
          source: `export async function ingest(): Promise<never> {
  console.log('pid', process.pid);
  return new Promise(() => { setInterval(() => undefined, 1000); });
}`,
        },
        opts,
      ),
    );
    const elapsed = Date.now() - started;
    expect(error.message).toBe('batch "test_batch": ingest function timed out after 3 s');
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    // Ends at the limit, not when the function would (never): the bound leaves room for a loaded machine.
    expect(elapsed).toBeLessThan(timeoutMs + 30_000);
    const pid = Number(lines.find((l) => l.line.startsWith('pid '))?.line.split(' ')[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  // Issue 14 item 6: Buffers live outside the V8 heap (1.58 GB under 128 MB).
  it('kills a TypeScript function whose Buffers take it over ingest_memory_mb', async () => {
    const { opts } = capture('warm');
    const error = await rejection(
      runIngestFn(
        {
          ...base,
          memoryMb: 128,
          language: 'typescript',
          source: `export function ingest(): unknown[] {
  const keep: Buffer[] = [];
  for (let i = 0; i < 24; i++) {
    keep.push(Buffer.alloc(64 * 1024 * 1024, 1));
  }
  return [{ metric_name: 'buffers', metric_value: keep.length, metric_timestamp: '2024-01-01T00:00:00Z' }];
}
`,
        },
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toMatch(/exceeded memory limit 128 MiB \(its processes used \d+ MiB\): killed/);
  });

  it('kills a JavaScript function that exceeds its heap', async () => {
    const { opts } = capture('warm');
    const error = await rejection(
      runIngestFn(
        {
          ...base,
          memoryMb: 64,
          language: 'javascript',
          source: 'export function ingest() { const a = []; for (;;) { a.push({ x: Math.random(), s: "y".repeat(100) + Math.random() }); } }',
        },
        opts,
      ),
    );
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toContain('exceeded memory limit 64 MiB');
  });
});
