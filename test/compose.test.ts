import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { load, YAML11_SCHEMA } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { SERVICE_KINDS, WORKER_KINDS } from '../shared/jobs.js';
import { parseStartArgs } from '../services/start.js';
import { BIN, ROOT } from './support/processes.js';

// No Docker engine in CI: check the compose file and the Dockerfile against the CLI instead.
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: unknown;
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

// YAML 1.1 schema: compose files use merge keys (`<<: *anchor`).
const compose = load(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { schema: YAML11_SCHEMA }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const appServices = Object.entries(services).filter(([, s]) => s.image === 'anomstack-ts');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const run = promisify(execFile);

describe('docker-compose.yml', () => {
  it('runs every service kind in a container of its own, from one image built once', () => {
    const started = appServices.flatMap(([, s]) => (s.command?.[0] === 'start' ? s.command.slice(1) : []));
    expect(new Set(started)).toEqual(new Set(SERVICE_KINDS));
    for (const kind of WORKER_KINDS) {
      expect(started).toContain(kind);
    }
    expect(appServices.filter(([, s]) => s.build !== undefined).map(([name]) => name)).toEqual(['migrate']);
    expect(Object.values(services).filter((s) => s.build !== undefined && s.image !== 'anomstack-ts')).toEqual([]);
  });

  it('gives every command to a CLI that accepts it', async () => {
    const env = { ...process.env, ANOMSTACK_ADMIN_TOKEN: 'compose-test-token-0123456789' };
    const kinds: string[] = [];
    for (const [name, service] of appServices) {
      const command = service.command ?? [];
      expect(['start', 'migrate'], name).toContain(command[0]);
      if (command[0] === 'start') {
        expect(parseStartArgs(command.slice(1)), name).toEqual({ kinds: command.slice(1), check: false });
        kinds.push(...command.slice(1));
      }
    }
    // And through the real bin, as the containers run it.
    const { stdout } = await run(process.execPath, [BIN, 'start', '--check', ...kinds], { cwd: ROOT, env });
    expect(stdout.split('\n')[0]).toBe(`ok ${kinds.join(' ')}`);
    await expect(run(process.execPath, [BIN, 'start', '--check', 'bogus'], { cwd: ROOT, env })).rejects.toMatchObject({ code: 2 });
    // The API refuses the old compose default before it starts anything.
    await expect(run(process.execPath, [BIN, 'start', '--check', 'api'], { cwd: ROOT, env: { ...env, ANOMSTACK_ADMIN_TOKEN: 'change-me' } })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('ANOMSTACK_ADMIN_TOKEN is a well-known placeholder'),
    });
  });

  it('starts Redis with noeviction, persistence and a healthcheck', () => {
    const redis = services.redis;
    expect(redis?.command?.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(redis?.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis?.healthcheck?.test.join(' ')).toMatch(/redis-cli ping/);
    expect(services.postgres?.image).toMatch(/^postgres:16/);
    expect(services.postgres?.healthcheck?.test.join(' ')).toMatch(/pg_isready/);
  });

  it('publishes the API on 127.0.0.1 only, with a /healthz healthcheck, and waits for its dependencies', () => {
    const api = services.api;
    expect(api?.ports).toEqual(['127.0.0.1:${ANOMSTACK_API_PORT:-3000}:3000']);
    // Inside its container the API listens on every interface, so the published port reaches it.
    expect(api?.environment?.ANOMSTACK_API_HOST).toBe('0.0.0.0');
    // Nothing is published beyond the host's loopback.
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        expect(port, name).toMatch(/^127\.0\.0\.1:/);
      }
    }
    expect(api?.healthcheck?.test.join(' ')).toContain('/healthz');
    for (const [name, service] of appServices) {
      const deps = service.depends_on ?? {};
      if (name !== 'migrate') {
        expect(deps.migrate?.condition, name).toBe('service_completed_successfully');
        expect(deps.redis?.condition, name).toBe('service_healthy');
      }
      expect(deps.postgres?.condition, name).toBe('service_healthy');
    }
  });

  it('points every app service at compose Redis, Postgres, the admin token and the mail catcher', () => {
    for (const [name, service] of appServices) {
      const env = service.environment ?? {};
      expect(env.ANOMSTACK_REDIS_URL, name).toBe('redis://redis:6379');
      expect(env.ANOMSTACK_DATABASE_URL, name).toMatch(/@postgres:5432\//);
      // No default token: compose refuses to start until .env sets one.
      expect(env.ANOMSTACK_ADMIN_TOKEN, name).toMatch(/^\$\{ANOMSTACK_ADMIN_TOKEN:\?[^}]+\}$/);
      expect(env.ANOMSTACK_ALERT_EMAIL_SMTP_HOST, name).toMatch(/mailpit/);
      expect(env.ANOMSTACK_PYTHON, name).toBe('/usr/bin/python3');
    }
    expect(services.mailpit?.image).toMatch(/^axllent\/mailpit/);
  });

  it('ships no admin token in .env.example', () => {
    const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const lines = example.split('\n').filter((line) => line.startsWith('ANOMSTACK_ADMIN_TOKEN='));
    expect(lines).toEqual(['ANOMSTACK_ADMIN_TOKEN=']);
    expect(example).not.toMatch(/change-me/);
  });
});

describe('docker-compose.yml polish', () => {
  it('pins every image to a version tag', () => {
    for (const [name, service] of Object.entries(services).filter(([, s]) => s.image !== 'anomstack-ts')) {
      expect(service.image, name).toMatch(/^[\w./-]+:v?\d+(\.\d+)*(-[\w]+)?$/);
    }
    expect(services.mailpit?.image).toMatch(/^axllent\/mailpit:v\d+\.\d+\.\d+$/);
  });

  it('keeps the plots on a named volume where the plot job (the alert worker) writes them', () => {
    const raw = load(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { schema: YAML11_SCHEMA }) as {
      services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
      volumes: Record<string, unknown>;
    };
    expect(raw.services.alert?.volumes).toContain('plots:/app/plots');
    expect(raw.services.alert?.environment?.ANOMSTACK_PLOTS_DIR).toBe('/app/plots');
    expect(Object.keys(raw.volumes)).toContain('plots');
  });

  it('publishes its ports through documented variables', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    const variables = published.flatMap((p) => [...p.matchAll(/\$\{(\w+):-\d+\}/g)].map((m) => m[1] ?? ''));
    expect(variables.sort()).toEqual(['ANOMSTACK_API_PORT', 'MAILPIT_PORT', 'POSTGRES_PORT', 'REDIS_PORT']);
    for (const variable of variables) {
      expect(readme, variable).toContain(`\`${variable}\``);
    }
  });
});

describe('Dockerfile', () => {
  it('installs the Python packages listed in metrics/requirements.txt at build time', () => {
    expect(fs.existsSync(path.join(ROOT, 'metrics', 'requirements.txt'))).toBe(true);
    expect(dockerfile).toMatch(/^COPY metrics\/requirements\.txt \/tmp\/requirements\.txt$/m);
    expect(dockerfile).toMatch(/pip3 install --no-cache-dir --break-system-packages -r \/tmp\/requirements\.txt/);
    // Installed before the sources are copied, so editing a batch does not reinstall them.
    expect(dockerfile.indexOf('requirements.txt')).toBeLessThan(dockerfile.indexOf('COPY metrics ./metrics'));
  });

  it('builds on node 20 with Python for ingest functions and runs the anomstack bin', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/python3-pandas/);
    expect(dockerfile).toMatch(/python3-requests/);
    expect(dockerfile).toMatch(/ANOMSTACK_PYTHON=\/usr\/bin\/python3/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/anomstack\.mjs"\]$/m);
    const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(packageJson.bin.anomstack).toBe('bin/anomstack.mjs');
    // `npm ci --omit=dev` builds dist/ through `prepare` with esbuild, after the sources are in.
    expect(packageJson.scripts.prepare).toBe('node scripts/build.mjs');
    expect(packageJson.dependencies).toHaveProperty('esbuild');
    expect(dockerfile).toMatch(/^COPY scripts\/build\.mjs \.\/scripts\/build\.mjs$/m);
    for (const dir of ['bin', 'shared', 'services']) {
      expect(dockerfile.indexOf(`COPY ${dir} ./${dir}`), dir).toBeLessThan(dockerfile.indexOf('npm ci --omit=dev'));
    }
    // TypeScript ingest functions (and a stale build) run through tsx, which it must keep.
    expect(packageJson.dependencies).toHaveProperty('tsx');
    // Everything the bin imports at run time is copied into the image.
    for (const dir of ['bin', 'shared', 'services', 'defaults', 'metrics']) {
      expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    }
    const ignored = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toContain('node_modules');
    expect(ignored).not.toContain('shared');
  });
});
