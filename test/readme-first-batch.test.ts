import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, REPO } from './support/cli.js';
import { SERVER_URL } from './support/db.js';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';

/**
 * The README's "Your first batch" walkthrough, run as written: every ```sh block between its
 * markers, in order, in a scratch copy of the repository (the batch folder it makes must not
 * land in the real metrics/). When the README and the behaviour drift apart, this fails.
 */

const START = '<!-- first-batch:';
const END = '<!-- /first-batch -->';

export function walkthroughBlocks(readme: string): string[] {
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) {
    throw new Error(`README.md: the "Your first batch" markers (${START} ... ${END}) are missing`);
  }
  return [...readme.slice(from, to).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/**
 * The output the walkthrough's prose quotes: each backticked `"key":...` fragment ending in
 * `...}` or `...}]`, cut before the `,...`, so the quote must be what the run prints.
 */
export function quotedOutput(readme: string): string[] {
  const region = readme.slice(readme.indexOf(START), readme.indexOf(END));
  return [...region.matchAll(/`("[a-z]+":[^`]*?),\.\.\.\}\]?`/g)].map((m) => m[1]!);
}

/** The repository as a user's clone sees it, with an empty metrics/ of its own: everything else is linked. */
function scratchCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-readme-'));
  const own = new Set(['metrics', '.env', '.git', 'models', 'plots']);
  for (const entry of fs.readdirSync(REPO)) {
    if (!own.has(entry)) {
      fs.symlinkSync(path.join(REPO, entry), path.join(dir, entry));
    }
  }
  fs.mkdirSync(path.join(dir, 'metrics'));
  return dir;
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('README: your first batch', () => {
  const database = `anomstack_test_readme_${randomBytes(5).toString('hex')}`;
  let smtp: TestSmtpServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const blocks = walkthroughBlocks(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'));

  beforeAll(async () => {
    smtp = await startSmtpServer();
    dir = scratchCopy();
    // What the README's .env example sets, pointed at this test's servers and database.
    env = {
      ...process.env,
      ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${database}`,
      ANOMSTACK_IGNORE_EXAMPLES: 'yes',
      ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'you@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
      ANOMSTACK_LOG_FORMAT: 'json',
    };
  });

  afterAll(async () => {
    await smtp.close();
    fs.rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  it('has the walkthrough: make the batch and validate, backfill and train, then ingest, score and alert', () => {
    expect(blocks).toHaveLength(3);
    expect(blocks[0]).toContain('npx anomstack validate');
    expect(blocks[2]).toContain('alert');
  });

  it('does what it says: the batch validates, and the bad hour alerts by email, once', async () => {
    const run = await bash(blocks.join('\n'), dir, env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('ok my_first_batch');
    expect(fs.existsSync(path.join(REPO, 'metrics', 'my_first_batch'))).toBe(false);
    // The result the README quotes, as printed.
    const quoted = quotedOutput(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'));
    expect(quoted).toContainEqual(expect.stringMatching(/^"alerts":\[\{"metric":"orders"/));
    for (const fragment of quoted) {
      expect(run.stdout).toContain(fragment);
    }
    const alert = jsonLines(run.stdout).at(-1);
    expect(alert).toMatchObject({ batch: 'my_first_batch', job: 'alert', details: { deliveries: { sent: 1 } } });
    const [mail] = await smtp.waitFor(1);
    expect(mail?.subject).toBe('[my_first_batch] orders anomaly');

    // "running a slot again never duplicates a row": the last block again sends nothing new.
    const again = await bash(blocks.at(-1)!, dir, env);
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ job: 'ingest', rows: 0 });
    expect(jsonLines(again.stdout).at(-1)).toMatchObject({ job: 'alert', details: { deliveries: { sent: 0 } } });
    expect(smtp.messages).toHaveLength(1);
  }, 300_000);
});
