import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The dashboard's session: a stateless cookie signed with HMAC-SHA256 under a key derived from
 * the admin token, so changing the token ends every session, and a CSRF token derived from the
 * same key and the session's nonce (docs/contract.md, "Dashboard").
 */
export const SESSION_COOKIE = 'anomstack_session';
export const SESSION_TTL_S = 12 * 3600;

export interface SessionKeys {
  /** Signs session cookies and CSRF tokens. */
  readonly key: Buffer;
}

/** The key: HMAC(token, label). With auth off (no token) a random key for this process. */
export function sessionKeys(token: string | null): SessionKeys {
  const key = token === null ? randomBytes(32) : createHmac('sha256', token).update('anomstack-dashboard-session-v1').digest();
  return { key };
}

const mac = (keys: SessionKeys, data: string): string => createHmac('sha256', keys.key).update(data).digest('base64url');

const sameText = (a: string, b: string): boolean => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

export interface Session {
  nonce: string;
  /** Seconds since the epoch. */
  expires: number;
}

/** A new cookie value: `<expires>.<nonce>.<mac>`. */
export function issueSession(keys: SessionKeys, nowMs: number): { value: string; session: Session } {
  const expires = Math.floor(nowMs / 1000) + SESSION_TTL_S;
  const nonce = randomBytes(16).toString('base64url');
  const payload = `${expires}.${nonce}`;
  return { value: `${payload}.${mac(keys, payload)}`, session: { nonce, expires } };
}

/** The session a cookie value stands for, or null if it is malformed, forged or expired. */
export function verifySession(keys: SessionKeys, value: string | undefined, nowMs: number): Session | null {
  const parts = /^(\d{1,12})\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!parts) {
    return null;
  }
  const [, expiresText = '', nonce = '', signature = ''] = parts;
  if (!sameText(mac(keys, `${expiresText}.${nonce}`), signature)) {
    return null;
  }
  const expires = Number(expiresText);
  return expires * 1000 > nowMs ? { nonce, expires } : null;
}

/** How the request proved itself, which decides its CSRF token. */
export type Principal = { kind: 'session'; session: Session } | { kind: 'basic' } | { kind: 'bearer' } | { kind: 'open' };

/**
 * The token a form or fetch must send back. A bearer request needs none (browsers never attach
 * an Authorization bearer header on their own); basic auth and open mode are ambient, so they do.
 */
export function csrfToken(keys: SessionKeys, principal: Principal): string {
  switch (principal.kind) {
    case 'session':
      return mac(keys, `csrf:session:${principal.session.nonce}`);
    case 'basic':
      return mac(keys, 'csrf:basic');
    case 'bearer':
      return mac(keys, 'csrf:bearer');
    case 'open':
      return mac(keys, 'csrf:open');
  }
}

export function csrfMatches(keys: SessionKeys, principal: Principal, given: unknown): boolean {
  return typeof given === 'string' && sameText(csrfToken(keys, principal), given);
}

/** The value of one cookie in a Cookie header (first wins). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** Set-Cookie for the session; `Secure` when the request came over https. */
export function sessionCookie(value: string, secure: boolean, maxAge = SESSION_TTL_S): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
