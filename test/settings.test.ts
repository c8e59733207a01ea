import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load, YAML11_SCHEMA } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { describeSettings, loadDotEnv, loadEnv, SCHEMA_VARIABLES } from '../shared/config/env.js';
import { VARIABLE_NAMES, VARIABLES } from '../shared/config/variables.js';
import { anomstack, REPO } from './support/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-settings-'));
  dirs.push(dir);
  for (const [file, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

/** The names in the README's "Environment" table, `<QUEUE>` rows as written. */
function readmeVariables(): string[] {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Environment'), readme.indexOf('\n## ', readme.indexOf('## Environment') + 3));
  return [...section.matchAll(/^\| `([A-Z_<>]+)`/gm)].map((m) => m[1] ?? '');
}

describe('the list of variables', () => {
  it('covers everything the environment schema reads', () => {
    for (const name of SCHEMA_VARIABLES) {
      expect(VARIABLE_NAMES, name).toContain(name);
    }
  });

  it('is the README table, row for row', () => {
    expect(readmeVariables()).toEqual(VARIABLES.map((v) => v.name));
  });

  it('is what docker-compose.yml passes to every app container, with .env as an optional env_file', () => {
    const compose = load(fs.readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8'), { schema: YAML11_SCHEMA }) as {
      services: Record<string, { image?: string; environment?: Record<string, string>; env_file?: { path: string; required: boolean }[] }>;
    };
    const apps = Object.entries(compose.services).filter(([, s]) => s.image === 'anomstack-ts');
    expect(apps.length).toBeGreaterThan(5);
    for (const [name, service] of apps) {
      expect(Object.keys(service.environment ?? {}).sort(), name).toEqual([...VARIABLE_NAMES].sort());
      expect(service.env_file, name).toEqual([{ path: '.env', required: false }]);
    }
  });
});

describe('.env', () => {
  it('fills what the real environment leaves unset, and never overrides it', () => {
    const dir = tempDir({ '.env': 'ANOMSTACK_API_PORT=4000\nANOMSTACK_QUEUE_PREFIX=from-file\n# a comment\n' });
    const env: NodeJS.ProcessEnv = { ANOMSTACK_API_PORT: '5000' };
    expect(loadDotEnv(dir, env)).toBe(path.join(dir, '.env'));
    expect(loadEnv(env)).toMatchObject({ apiPort: 5000, queuePrefix: 'from-file' });
    expect(loadDotEnv(tempDir({}), {})).toBeNull();
  });

  it('is read by the CLI from the working directory', async () => {
    const dir = tempDir({ '.env': 'ANOMSTACK_ADMIN_TOKEN=token-from-dot-env\nANOMSTACK_API_PORT=4000\n' });
    const result = await anomstack(['start', '--check', 'api'], { ANOMSTACK_ADMIN_TOKEN: undefined, ANOMSTACK_API_PORT: '5000' }, 60_000, dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('ok api');
    expect(result.stdout).toMatch(/^ {2}ANOMSTACK_API_PORT=5000$/m);
    expect(result.stdout).toMatch(/^ {2}ANOMSTACK_ADMIN_TOKEN=\*\*\*$/m);
    expect(result.stdout).not.toContain('token-from-dot-env');
  });
});

describe('start --check', () => {
  it('prints every setting, secrets and URL passwords masked', () => {
    const lines = describeSettings({
      ANOMSTACK_DATABASE_URL: 'postgres://app:hunter2@db:5432/anomstack',
      REDIS_URL: 'redis://:redispw@cache:6379',
      ANOMSTACK_ALERT_EMAIL_PASSWORD: 'smtp-secret',
      ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-secret',
      ANOMSTACK_ADMIN_TOKEN: 'admin-secret',
    });
    const text = lines.join('\n');
    expect(lines).toHaveLength(VARIABLE_NAMES.length);
    for (const secret of ['hunter2', 'redispw', 'smtp-secret', 'xoxb-secret', 'admin-secret']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('ANOMSTACK_DATABASE_URL=postgres://app:***@db:5432/anomstack');
    expect(text).toContain('ANOMSTACK_REDIS_URL=redis://:***@cache:6379');
    expect(text).toContain('ANOMSTACK_API_PORT= (default: 3000)');
  });
});
