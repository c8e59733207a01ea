import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import pg from 'pg';
import type { AddressInfo } from 'node:net';
import { deliverOnce, recordPending, sendPending, type DeliveryKey } from '../services/alert/src/deliveries.js';
import { createWebhookSender } from '../shared/alerts/webhook.js';
import type { AlertChannel } from '../services/alert/src/channels.js';
import type { AlertMessage } from '../shared/alerts/message.js';
import { logger } from '../shared/logger.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { waitFor } from './support/processes.js';

// Issue 14 item 10: one (metric, time)'s channels were sent one after the other, so a hung Slack
// held the webhook (and every channel after it) for its whole timeout.
describe('deliveries of one alert to several channels', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.drop();
  });

  it('go out in parallel: a stalled channel does not hold the others', async () => {
    const timestamp = new Date('2026-01-01T00:00:00Z');
    const key = (channel: 'slack' | 'webhook'): DeliveryKey => ({ batch: 'par_batch', metricName: 'm', metricType: 'alert', timestamp, channel });
    await recordPending(database.db, [key('slack'), key('webhook')]);
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const sent: string[] = [];
    // Stand-ins for the channels (the real senders have their own loopback tests): Slack hangs
    // until released, the webhook answers at once.
    const channel = (name: 'slack' | 'webhook', send: () => Promise<void>): AlertChannel => ({
      name,
      async send() {
        await send();
        sent.push(name);
      },
      async notice() {},
    });
    const channels = [channel('slack', () => stalled), channel('webhook', async () => {})];
    const run = sendPending(database.db, {
      batch: 'par_batch',
      metricType: 'alert',
      channels,
      // The stand-ins do not read the message.
      buildMessage: () => ({ metric: 'm' }) as AlertMessage,
      renderChart: async () => Buffer.from('png'),
      log: logger.child({ test: 'delivery-parallel' }),
    });
    try {
      await waitFor(() => sent.includes('webhook'), 10_000, 'the webhook delivery while Slack is stalled');
      expect(sent).toEqual(['webhook']);
    } finally {
      release();
    }
    const report = await run;
    expect(report.sent).toBe(2);
    expect(sent).toEqual(['webhook', 'slack']);
  });

  it('abandon an attempt after the total timeout when the server takes the connection and never answers', async () => {
    // A loopback server that accepts and reads, and never writes a byte.
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      // Its own timeout is far longer than the attempt's: only the total limit can end it.
      const webhook = createWebhookSender({ url: `http://127.0.0.1:${port}/hook`, secret: null, timeoutMs: 600_000 });
      const key: DeliveryKey = { batch: 'stall_batch', metricName: 'm', metricType: 'alert', timestamp: new Date('2026-01-01T00:00:00Z'), channel: 'webhook' };
      const outcome = await deliverOnce(database.db, key, () => webhook.post({ type: 'alert' }, 'stall'), 300);
      expect(outcome).toEqual({ status: 'failed', error: 'webhook delivery attempt took longer than 300 ms in all: abandoned' });
      expect(sockets.length).toBe(1);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client
        .query<{ status: string; attempts: number; last_error: string }>(`select status, attempts, last_error from anomstack_alert_deliveries where metric_batch = 'stall_batch'`)
        .finally(() => client.end());
      expect(rows).toEqual([{ status: 'pending', attempts: 1, last_error: 'webhook delivery attempt took longer than 300 ms in all: abandoned' }]);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
