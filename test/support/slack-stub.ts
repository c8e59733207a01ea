/**
 * A loopback stand-in for Slack's Web API, for tests: a node:http server on 127.0.0.1 that
 * answers chat.postMessage, files.getUploadURLExternal, the upload POST to the URL it hands
 * out, files.completeUploadExternal and auth.test with Slack-shaped JSON. Request bodies are
 * parsed whether JSON, form-encoded (the client's default) or multipart (the upload).
 *
 *   const slack = await startSlackStub();
 *   // ANOMSTACK_SLACK_API_URL = slack.url, any token, any channel
 *   ... send ...
 *   slack.messages[0].blocks; slack.uploads[0] (the PNG bytes); slack.files[0].thread_ts
 *   await slack.close();
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackStubCall {
  method: string;
  body: unknown;
}

export interface SlackStubMessage {
  channel: string;
  ts: string;
  text: string | undefined;
  blocks: unknown;
  thread_ts: string | undefined;
  token: string | undefined;
}

export interface SlackStubFile {
  id: string;
  filename: string | undefined;
  title: string | undefined;
  channel_id: string | undefined;
  thread_ts: string | undefined;
  bytes: Buffer | undefined;
}

export interface SlackStubOptions {
  /** Channel id answered for any channel name given to chat.postMessage. @defaultValue 'C0TESTCHAN' */
  channelId?: string;
  /** Bearer token to require; a call without it gets `{ ok: false, error: 'invalid_auth' }`. */
  token?: string;
}

export interface SlackStub {
  /** Base API URL, ending in `/` (the WebClient's `slackApiUrl`). */
  url: string;
  /** Every API call, in order (uploads to the upload URL appear as method `upload`). */
  calls: SlackStubCall[];
  /** Messages posted with chat.postMessage. */
  messages: SlackStubMessage[];
  /** The bytes of each file uploaded, in order. */
  uploads: Buffer[];
  /** Files completed with files.completeUploadExternal (with their thread and bytes). */
  files: SlackStubFile[];
  /**
   * The next `n` requests fail with HTTP `status` (default 500); with `method` (e.g.
   * 'files.getUploadURLExternal' or 'upload') only requests for that method count.
   */
  failNext(n: number, status?: number, method?: string): void;
  /** While down, every request fails with HTTP 503. */
  setDown(down: boolean): void;
  /** Forgets calls, messages and files, and clears failures and down (between tests). */
  reset(): void;
  /** Resolves once `n` files have been completed (rejects after `timeoutMs`, default 10 s). */
  waitForFiles(n: number, timeoutMs?: number): Promise<SlackStubFile[]>;
  close(): Promise<void>;
}

type Fields = Record<string, unknown>;

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a body by its content type; JSON-looking form values (blocks) are decoded too. */
async function parseBody(contentType: string, bytes: Buffer): Promise<{ fields: Fields; file: Buffer | undefined }> {
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
    return { fields: typeof parsed === 'object' && parsed !== null ? (parsed as Fields) : {}, file: undefined };
  }
  if (contentType.startsWith('multipart/form-data')) {
    // undici's Response parses multipart exactly as fetch encoded it.
    const form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
    const fields: Fields = {};
    let file: Buffer | undefined;
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') {
        fields[key] = value;
      } else {
        file = Buffer.from(await value.arrayBuffer());
      }
    }
    return { fields, file };
  }
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const fields: Fields = {};
    for (const [key, value] of new URLSearchParams(bytes.toString('utf8'))) {
      fields[key] = decodeJsonish(value);
    }
    return { fields, file: undefined };
  }
  // Anything else (e.g. a raw upload): the bytes are the file.
  return { fields: {}, file: bytes };
}

function decodeJsonish(value: string): unknown {
  if (value.startsWith('[') || value.startsWith('{')) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export async function startSlackStub(options: SlackStubOptions = {}): Promise<SlackStub> {
  const channelId = options.channelId ?? 'C0TESTCHAN';
  const calls: SlackStubCall[] = [];
  const messages: SlackStubMessage[] = [];
  const uploads: Buffer[] = [];
  const files: SlackStubFile[] = [];
  const pending = new Map<string, { filename: string | undefined; bytes: Buffer | undefined }>();
  const waiters = new Set<() => void>();
  let failures = 0;
  let failureStatus = 500;
  let failureMethod: string | undefined;
  let down = false;
  let sequence = 0;
  let baseUrl = '';

  const nextTs = (): string => {
    sequence += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(sequence).padStart(6, '0')}`;
  };

  const reply = (response: ServerResponse, status: number, body: unknown): void => {
    const json = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    response.end(json);
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const bytes = await readBody(request);
    const path = new URL(request.url ?? '/', 'http://stub').pathname;
    const method = path.replace(/^\/(api\/)?/, '');
    if (down) {
      reply(response, 503, { ok: false, error: 'service_unavailable' });
      return;
    }
    const failable = method.startsWith('upload/') ? 'upload' : method;
    if (failures > 0 && (failureMethod === undefined || failureMethod === failable)) {
      failures -= 1;
      reply(response, failureStatus, { ok: false, error: 'stub_failure' });
      return;
    }
    const { fields, file } = await parseBody(String(request.headers['content-type'] ?? ''), bytes);
    const authorization = request.headers.authorization;
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : text(fields['token']);

    if (method.startsWith('upload/')) {
      const id = method.slice('upload/'.length);
      calls.push({ method: 'upload', body: { id, bytes: file?.length ?? 0 } });
      const entry = pending.get(id);
      if (entry === undefined || file === undefined) {
        response.writeHead(404).end('unknown upload');
        return;
      }
      entry.bytes = file;
      uploads.push(file);
      response.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${file.length}`);
      return;
    }

    calls.push({ method, body: fields });
    if (options.token !== undefined && token !== options.token) {
      reply(response, 200, { ok: false, error: 'invalid_auth' });
      return;
    }
    switch (method) {
      case 'auth.test':
        reply(response, 200, { ok: true, url: 'https://stub.slack.invalid/', team: 'stub', user: 'anomstack', team_id: 'T0STUB', user_id: 'U0STUB' });
        return;
      case 'chat.postMessage': {
        const channel = text(fields['channel']);
        if (channel === undefined || channel === '') {
          reply(response, 200, { ok: false, error: 'channel_not_found' });
          return;
        }
        const ts = nextTs();
        const resolved = /^[CGD][A-Z0-9]+$/.test(channel) ? channel : channelId;
        messages.push({ channel: resolved, ts, text: text(fields['text']), blocks: fields['blocks'], thread_ts: text(fields['thread_ts']), token });
        reply(response, 200, { ok: true, channel: resolved, ts, message: { text: text(fields['text']), ts } });
        return;
      }
      case 'files.getUploadURLExternal': {
        sequence += 1;
        const id = `F0STUB${sequence}`;
        pending.set(id, { filename: text(fields['filename']), bytes: undefined });
        reply(response, 200, { ok: true, upload_url: `${baseUrl}upload/${id}`, file_id: id });
        return;
      }
      case 'files.completeUploadExternal': {
        const list = fields['files'];
        const entries = Array.isArray(list) ? (list as { id?: unknown; title?: unknown }[]) : [];
        const completed: SlackStubFile[] = [];
        for (const entry of entries) {
          const id = text(entry.id) ?? '';
          const upload = pending.get(id);
          if (upload === undefined) {
            reply(response, 200, { ok: false, error: 'file_not_found' });
            return;
          }
          completed.push({
            id,
            filename: upload.filename,
            title: text(entry.title),
            channel_id: text(fields['channel_id']),
            thread_ts: text(fields['thread_ts']),
            bytes: upload.bytes,
          });
        }
        files.push(...completed);
        for (const wake of waiters) {
          wake();
        }
        reply(response, 200, { ok: true, files: completed.map((file) => ({ id: file.id, name: file.filename, title: file.title })) });
        return;
      }
      default:
        reply(response, 200, { ok: false, error: 'unknown_method' });
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        reply(response, 500, { ok: false, error: `stub_error: ${error instanceof Error ? error.message : String(error)}` });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;

  return {
    url: baseUrl,
    calls,
    messages,
    uploads,
    files,
    failNext(n, status = 500, method) {
      failures = n;
      failureStatus = status;
      failureMethod = method;
    },
    setDown(value) {
      down = value;
    },
    reset() {
      calls.length = 0;
      messages.length = 0;
      uploads.length = 0;
      files.length = 0;
      pending.clear();
      failures = 0;
      failureMethod = undefined;
      down = false;
    },
    waitForFiles(n, timeoutMs = 10_000) {
      return new Promise<SlackStubFile[]>((resolve, reject) => {
        const check = (): boolean => {
          if (files.length >= n) {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve(files.slice());
            return true;
          }
          return false;
        };
        const wake = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`Slack stub: ${files.length} of ${n} files after ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) {
          waiters.add(wake);
        }
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // fetch keeps connections alive; end them so close() does not wait for their timeout.
        server.closeAllConnections();
      });
    },
  };
}
