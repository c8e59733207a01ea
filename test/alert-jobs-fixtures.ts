/**
 * Set-up shared by the alert-job tests (test/alert-jobs-*.test.ts): batches loaded from a YAML
 * in a temporary metrics directory, a fresh migrated database, a loopback SMTP server, the Slack
 * stub, and the environment that points the channels at them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { loadEnv, type AppEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { type MetricBatch } from '../shared/config/metric-batch.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import type { MetricRow } from '../shared/metric-row.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startSlackStub, type SlackStub } from './support/slack-stub.js';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface AlertJobsFixture {
  batches: MetricBatch[];
  batch(name: string): MetricBatch;
  database: TestDatabase;
  smtp: TestSmtpServer;
  slack: SlackStub;
  plotsDir: string;
  /** A job context; `env` overrides process settings (say, no Slack). */
  context(now: Date, options?: { dryRun?: boolean; env?: Partial<AppEnv> }): JobContext;
  close(): Promise<void>;
}

/** `yamls`: batch name -> YAML text (without metric_batch, which is added). */
export async function setUpAlertJobs(yamls: Record<string, string>): Promise<AlertJobsFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'alert-jobs-'));
  const metricsDir = path.join(dir, 'metrics');
  for (const [name, yaml] of Object.entries(yamls)) {
    await mkdir(path.join(metricsDir, name), { recursive: true });
    await writeFile(
      path.join(metricsDir, name, `${name}.yaml`),
      `metric_batch: "${name}"\ntable_key: "metrics_${name}"\ningest_sql: "select 1"\n${yaml}`,
    );
  }
  const load = loadBatches({ metricsDir, defaultsDir: path.join(repoRoot, 'defaults'), ignoreExamples: false, env: {} });
  if (load.problems.length > 0) {
    throw new Error(`test batches do not load: ${JSON.stringify(load.problems)}`);
  }
  const batches = load.batches;
  const database = await createTestDatabase(batches);
  const smtp = await startSmtpServer();
  const slack = await startSlackStub();
  const plotsDir = path.join(dir, 'plots');
  const processEnv: NodeJS.ProcessEnv = {
    ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
    ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com, oncall@example.com',
    ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
    ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
    ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-test',
    ANOMSTACK_SLACK_CHANNEL: '#alerts',
    ANOMSTACK_SLACK_API_URL: slack.url,
  };
  const env = loadEnv({ ...processEnv, ANOMSTACK_DATABASE_URL: database.url, ANOMSTACK_PLOTS_DIR: plotsDir });
  return {
    batches,
    batch(name) {
      const found = batches.find((b) => b.name === name);
      if (!found) {
        throw new Error(`no batch ${name}`);
      }
      return found;
    },
    database,
    smtp,
    slack,
    plotsDir,
    context: (now, options = {}) => ({
      env: { ...env, ...options.env },
      db: database.db,
      batches,
      now,
      dryRun: options.dryRun ?? false,
      log: logger.child({ test: 'alert-jobs' }),
    }),
    async close() {
      await smtp.close();
      await slack.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const MINUTE = 60_000;

/** Metric rows (and score rows where a score is given) every `stepMs`, the last at `last`. */
export function series(
  batch: string,
  metric: string,
  last: Date,
  values: readonly number[],
  scores: readonly (number | null)[] = [],
  stepMs = 10 * MINUTE,
): MetricRow[] {
  const rows: MetricRow[] = [];
  values.forEach((value, i) => {
    const t = new Date(last.getTime() - (values.length - 1 - i) * stepMs);
    rows.push({ metric_timestamp: t, metric_batch: batch, metric_name: metric, metric_type: 'metric', metric_value: value, metadata: null });
    const score = scores[i];
    if (score !== undefined && score !== null) {
      rows.push({ metric_timestamp: t, metric_batch: batch, metric_name: metric, metric_type: 'score', metric_value: score, metadata: null });
    }
  });
  return rows;
}

export async function seed(fixture: AlertJobsFixture, batch: string, rows: readonly MetricRow[]): Promise<void> {
  await upsertMetricRows(fixture.database.db, fixture.batch(batch).config.table_key, rows);
}

export async function countRows(fixture: AlertJobsFixture, batch: string, type: string): Promise<number> {
  const [row] = await fixture.database.db.query<{ n: number }>({
    text: `select count(*)::int as n from ${fixture.batch(batch).config.table_key} where metric_batch = $1 and metric_type = $2`,
    values: [batch, type],
  });
  return row?.n ?? 0;
}

export async function deliveries(
  fixture: AlertJobsFixture,
): Promise<{ metric_batch: string; metric_name: string; metric_type: string; channel: string; status: string; attempts: number; metric_timestamp: Date; last_error: string | null }[]> {
  return fixture.database.db.query({
    text: 'select * from anomstack_alert_deliveries order by metric_timestamp, metric_name, channel',
    values: [],
  });
}

/**
 * Decodes a PNG enough to know it is whole: signature, every chunk's CRC, IHDR, and the IDAT
 * stream inflating to exactly height rows of (1 filter byte + width * bytes per pixel).
 */
export function decodePng(bytes: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!bytes.subarray(0, 8).equals(signature)) {
    throw new Error('not a PNG signature');
  }
  let offset = 8;
  let width = 0;
  let height = 0;
  let bytesPerPixel = 0;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const crc = bytes.readUInt32BE(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== crc) {
      throw new Error(`bad CRC in ${type}`);
    }
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const bitDepth = data[8]!;
      const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[data[9]!] ?? 0;
      bytesPerPixel = (bitDepth / 8) * channels;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  if (!ended || raw.length !== height * (1 + width * bytesPerPixel)) {
    throw new Error(`PNG data of ${raw.length} bytes does not fit ${width}x${height}`);
  }
  return { width, height };
}

let crcTable: number[] | null = null;

function crc32(bytes: Buffer): number {
  crcTable ??= Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
