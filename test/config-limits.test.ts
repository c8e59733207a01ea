import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anomstack } from './support/cli.js';

// Issue 14, item 5: config files that hung or exploded the loader (which runs inside every
// service). `anomstack validate` in a child process, so a hang shows as a killed run.
const RUN_LIMIT_MS = 20_000;
const dirs: string[] = [];

const tempDir = (stem: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), stem));
  dirs.push(dir);
  return dir;
};

function metricsDir(files: Record<string, string>): string {
  const dir = tempDir('anomstack-limits-');
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const GOOD = 'good/good.yaml';
const GOOD_YAML = 'metric_batch: good\ningest_sql: select 1\n';

/** Validates `dir`: the good batch still loads, every error line names `file`; returns the first. */
async function validateOneError(dir: string, file: string): Promise<string> {
  const result = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: dir }, RUN_LIMIT_MS);
  expect(result.stdout).toMatch(/^ok good$/m);
  const errors = result.stdout.split('\n').filter((line) => line.startsWith('error '));
  expect(errors.length).toBeGreaterThan(0);
  expect(errors.length).toBeLessThan(3);
  for (const line of errors) {
    expect(line).toContain(`error ${path.join(dir, file)}: `);
  }
  expect(result.code).toBe(1);
  return errors[0] ?? '';
}

afterAll(() => {
  for (const dir of dirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('config files that would hang or explode the loader', () => {
  it('refuses a YAML billion-laughs (aliases of aliases) naming the file', async () => {
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const lines = levels.map((name, i) =>
      i === 0 ? `${name}: &${name} [${Array(9).fill('"lol"').join(', ')}]` : `${name}: &${name} [${Array(9).fill(`*${levels[i - 1]}`).join(', ')}]`,
    );
    const dir = metricsDir({ [GOOD]: GOOD_YAML, 'lol/lol.yaml': `metric_batch: lol\ningest_sql: select 1\n${lines.join('\n')}\n` });
    expect(await validateOneError(dir, 'lol/lol.yaml')).toMatch(/uses aliases \(\*name\) more than 100 times|expands to more than/);
  });

  it('refuses a document that expands past the node cap through scalar aliases', async () => {
    const big = 'x'.repeat(60_000);
    const dir = metricsDir({
      [GOOD]: GOOD_YAML,
      'wide/wide.yaml': `metric_batch: wide\ningest_sql: select 1\ns: &s "${big}"\nl: [${Array(200).fill('*s').join(', ')}]\n`,
    });
    expect(await validateOneError(dir, 'wide/wide.yaml')).toContain('expands to more than 100000 nodes');
  });

  it('stops two files that include each other, with the include count', async () => {
    const dir = metricsDir({
      [GOOD]: GOOD_YAML,
      'cyc/cyc.yaml': `metric_batch: cyc\ningest_sql: "{% include './cyc/a.sql' %}"\n`,
      'cyc/a.sql': `${Array(6).fill(`{% include './cyc/b.sql' %}`).join('\n')}\n`,
      'cyc/b.sql': `${Array(6).fill(`{% include './cyc/a.sql' %}`).join('\n')}\n`,
    });
    expect(await validateOneError(dir, 'cyc/cyc.yaml')).toMatch(/more than 100 includes|includes nest more than 10 deep/);
  });

  it('caps the bytes includes bring in', async () => {
    const chunk = `-- ${'y'.repeat(900_000)}\n`;
    const dir = metricsDir({
      [GOOD]: GOOD_YAML,
      'fat/fat.yaml': `metric_batch: fat\ningest_sql: "${Array(8).fill(`{% include './fat/chunk.sql' %}`).join(' ')} select 1"\n`,
      'fat/chunk.sql': chunk,
    });
    expect(await validateOneError(dir, 'fat/fat.yaml')).toContain('includes bring in more than 4194304 bytes');
  });

  it('refuses a batch YAML that is a symlink out of the metrics folder', async () => {
    const outside = tempDir('anomstack-outside-');
    fs.writeFileSync(path.join(outside, 'evil.yaml'), 'metric_batch: evil\ningest_sql: select 1\n');
    const dir = metricsDir({ [GOOD]: GOOD_YAML });
    fs.mkdirSync(path.join(dir, 'evil'));
    fs.symlinkSync(path.join(outside, 'evil.yaml'), path.join(dir, 'evil/evil.yaml'));
    expect(await validateOneError(dir, 'evil/evil.yaml')).toContain('links outside');
  });

  it('refuses a FIFO named like a batch file instead of hanging on it', async () => {
    const dir = metricsDir({ [GOOD]: GOOD_YAML });
    fs.mkdirSync(path.join(dir, 'fifo'));
    execFileSync('mkfifo', [path.join(dir, 'fifo/fifo.yaml')]);
    expect(await validateOneError(dir, 'fifo/fifo.yaml')).toContain('is not a regular file (a FIFO)');
  });

  it('refuses a link to /dev/zero, as a batch file or as an include', async () => {
    const dir = metricsDir({ [GOOD]: GOOD_YAML });
    fs.mkdirSync(path.join(dir, 'zero'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero/zero.yaml'));
    expect(await validateOneError(dir, 'zero/zero.yaml')).toContain('links outside');

    const inner = metricsDir({ [GOOD]: GOOD_YAML, 'inc/inc.yaml': `metric_batch: inc\ningest_sql: "{% include './inc/zero.sql' %} select 1"\n` });
    fs.symlinkSync('/dev/zero', path.join(inner, 'inc/zero.sql'));
    expect(await validateOneError(inner, 'inc/inc.yaml')).toMatch(/include "\.\/inc\/zero\.sql"/);
  });

  it('refuses a batch file over the size cap', async () => {
    const dir = metricsDir({ [GOOD]: GOOD_YAML, 'huge/huge.yaml': `metric_batch: huge\ningest_sql: select 1\n# ${'z'.repeat(1_100_000)}\n` });
    expect(await validateOneError(dir, 'huge/huge.yaml')).toContain('more than the 1048576 a config file may have');
  });
});

// Issue 14, item 11: numbers YAML reads as hex or NaN, and typos in per-batch variables.
describe('config values and variables that passed silently', () => {
  it('rejects 0x10, 0o17, .nan and .inf for numeric keys, in YAML and in variables, with a clear message', async () => {
    const dir = metricsDir({
      [GOOD]: GOOD_YAML,
      'nums/nums.yaml': 'metric_batch: nums\ningest_sql: select 1\nalert_threshold: 0x10\nchange_threshold: .inf\ningest_timeout_s: .nan\ntrain_max_n: 0o17\n',
    });
    const result = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: dir, ANOMSTACK__NUMS__SCORE_MAX_N: '0x10' }, RUN_LIMIT_MS);
    expect(result.code).toBe(1);
    const file = path.join(dir, 'nums/nums.yaml');
    const cases: Array<[string, string]> = [['alert_threshold', '0x10'], ['change_threshold', '.inf'], ['ingest_timeout_s', '.nan'], ['train_max_n', '0o17']];
    for (const [key, value] of cases) {
      expect(result.stdout).toContain(`error ${file}: ${key}: must be`);
      expect(result.stdout).toMatch(new RegExp(`${key}: must be [^\\n]*got "${value.replace('.', '\\.')}" \\(hex, octal, binary, \\.nan and \\.inf are not accepted`));
    }
    expect(result.stdout).toContain(`error ${file}: score_max_n (from ANOMSTACK__NUMS__SCORE_MAX_N): "0x10" is not a number (decimal only)`);
  });

  it('warns about a per-batch variable naming no key, with did-you-mean', async () => {
    const dir = metricsDir({ [GOOD]: GOOD_YAML });
    const result = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: dir, ANOMSTACK__GOOD__ALERT_TRESHOLD: '0.9' }, RUN_LIMIT_MS);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning ${path.join(dir, GOOD)}: alert_treshold (from ANOMSTACK__GOOD__ALERT_TRESHOLD): unknown key, ignored: did you mean alert_threshold?`);
  });
});
