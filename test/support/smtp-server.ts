/**
 * A loopback SMTP server for tests: plain SMTP (no TLS) on 127.0.0.1 and a random port, any
 * login accepted, every message parsed with mailparser and kept in `messages` in arrival order.
 *
 *   const smtp = await startSmtpServer();
 *   // ... point ANOMSTACK_ALERT_EMAIL_SMTP_HOST/PORT at 127.0.0.1 / smtp.port, send ...
 *   const [mail] = await smtp.waitFor(1);
 *   await smtp.close();
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpEnvelope {
  from: string | undefined;
  to: string[];
  /** The user name of the SMTP login, if the client logged in. */
  user: string | undefined;
}

export interface TestSmtpServer {
  port: number;
  /** Parsed messages in arrival order. */
  messages: ParsedMail[];
  /** The SMTP envelope of each message, same order as `messages` (RCPT TO is where Bcc shows). */
  envelopes: SmtpEnvelope[];
  /** The raw bytes of each message, same order as `messages`. */
  raw: Buffer[];
  /** When each message's DATA was fully received (Date.now()), same order as `messages`. */
  receivedAt: number[];
  /** Resolves once at least `n` messages have arrived (rejects after `timeoutMs`, default 10 s). */
  waitFor(n: number, timeoutMs?: number): Promise<ParsedMail[]>;
  /** Makes the next `n` messages fail with a 451 (temporary) reply. */
  failNext(n: number): void;
  /** Makes the next `n` messages fail with a 550 (permanent: mailbox unavailable) reply. */
  rejectNext(n: number): void;
  /** Forgets received messages and pending failures (between tests sharing one server). */
  reset(): void;
  close(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const messages: ParsedMail[] = [];
  const envelopes: SmtpEnvelope[] = [];
  const raw: Buffer[] = [];
  const receivedAt: number[] = [];
  const waiters = new Set<() => void>();
  let failures = 0;
  let rejections = 0;

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    // Accept any credentials: tests check what is sent, not who sends it.
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const arrived = Date.now();
        if (rejections > 0) {
          rejections -= 1;
          callback(Object.assign(new Error('test server: mailbox unavailable'), { responseCode: 550 }));
          return;
        }
        if (failures > 0) {
          failures -= 1;
          const error = Object.assign(new Error('test server: temporary failure'), { responseCode: 451 });
          callback(error);
          return;
        }
        const bytes = Buffer.concat(chunks);
        // skipImageLinks: keep `cid:` references in `html` as sent (not replaced by data URIs).
        simpleParser(bytes, { skipImageLinks: true })
          .then((parsed) => {
            raw.push(bytes);
            receivedAt.push(arrived);
            envelopes.push({
              from: session.envelope.mailFrom === false ? undefined : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((recipient) => recipient.address),
              user: typeof session.user === 'string' ? session.user : undefined,
            });
            messages.push(parsed);
            for (const wake of waiters) {
              wake();
            }
            callback();
          })
          .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // smtp-server logs socket errors through 'error'; an unhandled one would crash the test run.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    messages,
    envelopes,
    raw,
    receivedAt,
    waitFor(n, timeoutMs = 10_000) {
      return new Promise<ParsedMail[]>((resolve, reject) => {
        const check = (): boolean => {
          if (messages.length >= n) {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve(messages.slice());
            return true;
          }
          return false;
        };
        const wake = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`test SMTP server: ${messages.length} of ${n} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) {
          waiters.add(wake);
        }
      });
    },
    failNext(n) {
      failures = n;
    },
    rejectNext(n) {
      rejections = n;
    },
    reset() {
      messages.length = 0;
      envelopes.length = 0;
      raw.length = 0;
      receivedAt.length = 0;
      failures = 0;
      rejections = 0;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
