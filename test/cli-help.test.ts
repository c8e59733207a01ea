import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { anomstack, REPO } from './support/cli.js';
import { SERVER_URL } from './support/db.js';

const COMMANDS = ['validate', 'migrate', 'run', 'start', 'score-csv'] as const;
const VERSION = '0.1.0';

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

describe('anomstack --help and --version', () => {
  it('lists every command with exit 0', async () => {
    const result = await anomstack(['--help']);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('prints the version, also after a command', async () => {
    for (const args of [['--version'], ...COMMANDS.map((c) => [c, '--version'])]) {
      const result = await anomstack(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout.trim(), args.join(' ')).toBe(VERSION);
    }
  });

  it.each(COMMANDS)('%s --help shows usage, options and an example, exit 0', async (command) => {
    const result = await anomstack([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: anomstack ${command}\\b`, 'm'));
    expect(result.stdout).toMatch(/^Options:$/m);
    expect(result.stdout).toMatch(new RegExp(`^example:\\n  .*anomstack ${command}`, 'm'));
  });

  it('migrate --help migrates nothing', async () => {
    const name = `anomstack_help_${Date.now()}`;
    const result = await anomstack(['migrate', '--help'], { ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${name}` });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('"tables"');
    expect(await databaseExists(name)).toBe(false);
  });

  it('start --help starts nothing and needs no token', async () => {
    const result = await anomstack(['start', 'api', '--help'], { ANOMSTACK_ADMIN_TOKEN: '' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: anomstack start');
  });
});

describe('anomstack usage errors', () => {
  it('an unknown option prints the usage and exits 2', async () => {
    for (const command of COMMANDS) {
      const result = await anomstack([command, '--bogus']);
      expect(result.code, command).toBe(2);
      expect(result.stderr, command).toContain("unknown option '--bogus'");
      expect(result.stderr, command).toContain(`Usage: anomstack ${command}`);
    }
  });

  it('no command prints the usage and exits 2; an unknown command too', async () => {
    const none = await anomstack([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: anomstack');
    const unknown = await anomstack(['dance']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'dance'");
    expect(unknown.stderr).toContain('Usage: anomstack');
  });

  it('`help` prints the usage with exit 0', async () => {
    const result = await anomstack(['help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: anomstack');
  });

  it('run without jobs prints its usage and exits 2', async () => {
    const result = await anomstack(['run', 'example_simple']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: anomstack run');
  });
});

describe('output to a closed pipe', () => {
  it('validate --json ends quietly when the reader has gone', async () => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'anomstack.mjs'), 'validate', '--json'], {
      cwd: REPO,
      env: { ...process.env, ANOMSTACK_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader goes away before the first byte: every write meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(code).toBe(0);
  });
});
