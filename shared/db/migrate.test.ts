import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { migrate } from './migrate.js';

let test: TestDatabase;

beforeAll(async () => {
  test = await createTestDatabase();
});
afterAll(async () => {
  await test.drop();
});

describe('migrate on a database made by an earlier version', () => {
  it('widens the delivery status check to take rejected, once, keeping the rows', async () => {
    // Setup: the deliveries table as the version before `rejected` made it, with a row.
    const db = test.db;
    await db.query({ text: 'alter table anomstack_alert_deliveries drop constraint anomstack_alert_deliveries_status_check', values: [] });
    await db.query({
      text: "alter table anomstack_alert_deliveries add constraint anomstack_alert_deliveries_status_check check (status in ('pending', 'sent'))",
      values: [],
    });
    await db.query({ text: "insert into anomstack_alert_deliveries (metric_batch, metric_name, metric_type, metric_timestamp, channel) values ('b', 'm', 'alert', now(), 'email')", values: [] });
    const reject = { text: "update anomstack_alert_deliveries set status = 'rejected'", values: [] };
    await expect(db.query(reject)).rejects.toThrow(/status_check/);

    // When: migrate runs (twice: it is idempotent)
    await migrate(db, []);
    await migrate(db, []);

    // Then
    await db.query(reject);
    const rows = await db.query<{ status: string }>({ text: 'select status from anomstack_alert_deliveries', values: [] });
    expect(rows.map((r) => r.status)).toEqual(['rejected']);
    const checks = await db.query<{ n: number }>({
      text: "select count(*)::int as n from pg_constraint where conrelid = 'anomstack_alert_deliveries'::regclass and contype = 'c'",
      values: [],
    });
    expect(checks[0]?.n).toBe(1);
    await expect(db.query({ text: "update anomstack_alert_deliveries set status = 'lost'", values: [] })).rejects.toThrow(/status_check/);
  });
});
