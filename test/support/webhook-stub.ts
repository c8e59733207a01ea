/**
 * A loopback webhook receiver for tests: a node:http server on 127.0.0.1 that keeps every POST
 * (headers, the exact body bytes, the parsed JSON) and answers 200, or what the test scripts.
 *
 *   const hook = await startWebhookStub();
 *   // ANOMSTACK_WEBHOOK_URL = hook.url
 *   hook.failNext(1, 500); hook.hangNext(1);
 *   await hook.waitFor(1); hook.requests[0].json
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookStubRequest {
  headers: IncomingHttpHeaders;
  raw: string;
  json: Record<string, unknown>;
}

export interface WebhookStub {
  url: string;
  /** Requests answered 2xx, in order (failed and hung ones are in `attempts` only). */
  requests: WebhookStubRequest[];
  attempts: number;
  failNext(n: number, status?: number): void;
  hangNext(n: number): void;
  waitFor(n: number, timeoutMs?: number): Promise<WebhookStubRequest[]>;
  reset(): void;
  close(): Promise<void>;
}

export async function startWebhookStub(path = '/hooks/anomstack?token=t0ken'): Promise<WebhookStub> {
  const requests: WebhookStubRequest[] = [];
  let attempts = 0;
  let failures = 0;
  let failureStatus = 500;
  let hangs = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      attempts += 1;
      if (hangs > 0) {
        hangs -= 1;
        return;
      }
      if (failures > 0) {
        failures -= 1;
        response.writeHead(failureStatus).end('stub failure');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push({ headers: request.headers, raw, json: JSON.parse(raw) as Record<string, unknown> });
      response.writeHead(204).end();
      waiters = waiters.filter((w) => (requests.length >= w.n ? (w.resolve(), false) : true));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    get attempts() {
      return attempts;
    },
    failNext(n, status = 500) {
      failures = n;
      failureStatus = status;
    },
    hangNext(n) {
      hangs = n;
    },
    waitFor(n, timeoutMs = 10_000) {
      if (requests.length >= n) {
        return Promise.resolve(requests);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${requests.length} of ${n} webhook requests arrived`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(requests)) });
      });
    },
    reset() {
      requests.length = 0;
      attempts = 0;
      failures = 0;
      hangs = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
