import type { AppEnv } from '../../../shared/config/env.js';

// Apart from main.ts so `anomstack start --check` checks the token without loading express.

export class AdminAuthError extends Error {
  override name = 'AdminAuthError';
}

/** The shortest admin token accepted. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Placeholders from docs, examples and habit, compared lower-case with everything but letters and
 * digits removed (so `Change_Me` and `change-me-change-me` count), whatever their length.
 */
const KNOWN_TOKENS = new Set([
  'changeme',
  'changemeplease',
  'secret',
  'supersecret',
  'mysecret',
  'topsecret',
  'password',
  'passw0rd',
  'admin',
  'adminadmin',
  'administrator',
  'token',
  'admintoken',
  'secrettoken',
  'mytoken',
  'yourtoken',
  'yourtokenhere',
  'youradmintoken',
  'youradmintokenhere',
  'yoursecrettoken',
  'apitoken',
  'anomstack',
  'anomstackadmintoken',
  'test',
  'testtoken',
  'default',
  'letmein',
  'qwerty',
  'example',
  'root',
  'xxx',
]);

const HOW_TO = 'Set a long random string (e.g. `openssl rand -hex 32`); clients send Authorization: Bearer <token>. ' +
  'To run the API without auth on a trusted network, set ANOMSTACK_ADMIN_AUTH=off explicitly.';

/** Why a token must not be used, or null if it may. */
export function weakTokenReason(token: string): string | null {
  const squashed = token.toLowerCase().replace(/[^a-z0-9]/g, '');
  // A placeholder on its own or repeated (`changeme-changeme`).
  const repeatOf = (unit: string): boolean =>
    unit.length > 0 && squashed.length % unit.length === 0 && unit.repeat(squashed.length / unit.length) === squashed;
  const shown = token.length > 40 ? `${token.slice(0, 40)}...` : token;
  if ([...KNOWN_TOKENS].some(repeatOf)) {
    return `ANOMSTACK_ADMIN_TOKEN is a well-known placeholder ("${shown}"), which anyone can guess`;
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    return `ANOMSTACK_ADMIN_TOKEN is too short (${token.length} characters, at least ${MIN_TOKEN_LENGTH})`;
  }
  // Long but trivial: one character over and over, or digits counting up.
  if (repeatOf(squashed.slice(0, 1)) || '0123456789'.repeat(Math.ceil(squashed.length / 10) + 1).startsWith(squashed)) {
    return `ANOMSTACK_ADMIN_TOKEN is a well-known placeholder ("${shown}"), which anyone can guess`;
  }
  return null;
}

/** The admin token, or null when auth is explicitly off; refuses to run open, or nearly open, by accident. */
export function adminToken(env: Pick<AppEnv, 'adminToken' | 'adminAuth'>): string | null {
  if (!env.adminAuth) {
    return null;
  }
  if (!env.adminToken) {
    throw new AdminAuthError(`the admin API needs ANOMSTACK_ADMIN_TOKEN. ${HOW_TO}`);
  }
  const weak = weakTokenReason(env.adminToken);
  if (weak !== null) {
    throw new AdminAuthError(`the admin API refuses to start: ${weak}. ${HOW_TO}`);
  }
  return env.adminToken;
}
