import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomstack, jsonLines } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';

// The acceptance run: an example batch, whose first ingest ends in a level shift,
// through `anomstack run ... ingest train score alert`, delivers its alert by email.
describe('anomstack run on the example batch', () => {
  let database: TestDatabase;
  let smtp: TestSmtpServer;
  let models: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase();
    smtp = await startSmtpServer();
    models = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-models-'));
    env = {
      ANOMSTACK_DATABASE_URL: database.url,
      ANOMSTACK_MODEL_PATH: `local://${models}`,
      ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com, oncall@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
    };
  });

  afterAll(async () => {
    await smtp.close();
    await database.drop();
    fs.rmSync(models, { recursive: true, force: true });
  });

  it('delivers the alert to the SMTP server, and a second alert run sends nothing', async () => {
    const result = await anomstack(['run', 'example_simple', 'ingest', 'train', 'score', 'alert'], env);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines.map((l) => [l.job, l.status])).toEqual([
      ['ingest', 'ok'],
      ['train', 'ok'],
      ['score', 'ok'],
      ['alert', 'ok'],
    ]);
    await smtp.waitFor(1);
    // Metrics 1 and 2 are noise with the odd spike: only metric 3's alert is certain.
    const mail = smtp.messages.find((m) => m.subject === '[example_simple] example_simple_metric_3 anomaly');
    expect(mail, smtp.messages.map((m) => m.subject).join(', ')).toBeDefined();
    expect(mail?.text).toMatch(/threshold 0\.8/);
    const chart = mail?.attachments.find((a) => a.contentType === 'image/png');
    expect(chart?.content.subarray(1, 4).toString()).toBe('PNG');

    const sent = smtp.messages.length;
    const again = await anomstack(['run', 'example_simple', 'alert'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ job: 'alert', rows: 0 });
    expect(smtp.messages).toHaveLength(sent);
  });
});
