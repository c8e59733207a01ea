/**
 * A loopback stand-in for an OpenAI-compatible chat API, for tests: a node:http server on
 * 127.0.0.1 answering `POST /v1/chat/completions` with an OpenAI-shaped completion. What it
 * answers is scripted: each request takes the next queued reply, else the default one.
 *
 *   const llm = await startLlmStub();
 *   // ANOMSTACK_LLM_BASE_URL = llm.url, any key
 *   llm.reply({ content: '{"anomalous": true, "explanation": "a spike"}' });
 *   llm.reply({ status: 429 });    // rate limited
 *   llm.reply({ hang: true });     // never answers (a timeout)
 *   ... run ...
 *   llm.requests[0].body.messages; llm.requests[0].authorization
 *   await llm.close();
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type LlmStubReply = { content: string } | { status: number; body?: unknown } | { hang: true };

export interface LlmStubRequest {
  path: string;
  authorization: string | undefined;
  body: {
    model?: string;
    messages?: { role: string; content: string }[];
    response_format?: unknown;
  };
}

export interface LlmStub {
  /** Base URL with `/v1`, as `ANOMSTACK_LLM_BASE_URL`. */
  url: string;
  requests: LlmStubRequest[];
  /** Queues replies, used one per request, in order. */
  reply(...replies: LlmStubReply[]): void;
  /** The reply when the queue is empty. @defaultValue a "not anomalous" answer */
  setDefault(reply: LlmStubReply): void;
  /** Resolves once `n` requests have arrived (rejects after `timeoutMs`, default 10 s). */
  waitForRequests(n: number, timeoutMs?: number): Promise<LlmStubRequest[]>;
  reset(): void;
  close(): Promise<void>;
}

const NOT_ANOMALOUS: LlmStubReply = { content: '{"anomalous": false, "explanation": "ordinary noise"}' };

export async function startLlmStub(): Promise<LlmStub> {
  const requests: LlmStubRequest[] = [];
  let queue: LlmStubReply[] = [];
  let fallback: LlmStubReply = NOT_ANOMALOUS;
  let waiters: { n: number; resolve: () => void }[] = [];

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body: LlmStubRequest['body'] = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LlmStubRequest['body'];
      } catch {
        // Recorded as empty; the test's assertions say what was expected.
      }
      requests.push({ path: request.url ?? '', authorization: request.headers.authorization, body });
      waiters = waiters.filter((w) => (requests.length >= w.n ? (w.resolve(), false) : true));
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const next = queue.shift() ?? fallback;
      if ('hang' in next) {
        return;
      }
      if ('status' in next) {
        response
          .writeHead(next.status, { 'content-type': 'application/json' })
          .end(JSON.stringify(next.body ?? { error: { message: `stub status ${next.status}`, type: 'stub' } }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: `chatcmpl-${requests.length}`,
          object: 'chat.completion',
          created: 0,
          model: body.model ?? 'stub',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: next.content } }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    reply: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (reply) => {
      fallback = reply;
    },
    waitForRequests(n, timeoutMs = 10_000) {
      if (requests.length >= n) {
        return Promise.resolve(requests);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${requests.length} of ${n} LLM requests arrived`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(requests)) });
      });
    },
    reset() {
      requests.length = 0;
      queue = [];
      fallback = NOT_ANOMALOUS;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
