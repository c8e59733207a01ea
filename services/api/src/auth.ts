import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * Constant-time token check. Both sides are hashed first so that timingSafeEqual compares equal
 * lengths and the token's length does not leak either.
 */
export function tokenMatches(expected: string, given: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/** The credential in an Authorization header: a bearer token, or (if allowed) a basic-auth password. */
export function presentedToken(header: string | undefined, allowBasic: boolean): string | null {
  if (!header) {
    return null;
  }
  // Exactly `<scheme> <credential>`: anything after the credential (`Bearer <token> junk`) is refused.
  const parts = /^(\S+) +(\S+)$/.exec(header.trim());
  if (!parts) {
    return null;
  }
  const [, scheme, value] = parts as unknown as [string, string, string];
  if (scheme.toLowerCase() === 'bearer') {
    return value;
  }
  if (allowBasic && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? null : decoded.slice(colon + 1);
  }
  return null;
}

/**
 * Requires `Authorization: Bearer <token>`. With `basic` (Bull Board) HTTP basic auth with the
 * token as password also passes, and a 401 asks the browser for it. `token: null` means auth is
 * off (ANOMSTACK_ADMIN_AUTH=off).
 */
export function requireToken(token: string | null, options: { basic: boolean }): RequestHandler {
  return (req, res, next) => {
    if (token === null) {
      next();
      return;
    }
    const given = presentedToken(req.headers.authorization, options.basic);
    if (given !== null && tokenMatches(token, given)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', options.basic ? 'Basic realm="anomstack", charset="UTF-8"' : 'Bearer realm="anomstack"');
    const error =
      given !== null
        ? 'wrong token'
        : req.headers.authorization
          ? 'malformed Authorization header (expected exactly: Bearer <ANOMSTACK_ADMIN_TOKEN>)'
          : 'missing bearer token (Authorization: Bearer <ANOMSTACK_ADMIN_TOKEN>)';
    res.status(401).json({ error });
  };
}
