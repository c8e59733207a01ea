import type { Request, RequestHandler, Response } from 'express';
import { presentedToken, requireToken } from '../auth.js';

/** The admin API's constant-time token check, for the login form. */
export { tokenMatches } from '../auth.js';
import { csrfMatches, readCookie, SESSION_COOKIE, verifySession, type Principal, type SessionKeys } from './session.js';

export interface GuardDeps {
  /** The admin token; null when ANOMSTACK_ADMIN_AUTH=off. */
  token: string | null;
  keys: SessionKeys;
  now: () => Date;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The principal `authenticate` found; every handler behind it may rely on it. */
export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** A path of ours to return to after login: relative, never `//host` or `/\host`. */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[^\s]*$/.test(value) && value.length <= 2000 ? value : '/';
}

const wantsHtml = (req: Request): boolean => req.method === 'GET' && (req.get('accept') ?? '').includes('text/html');

/**
 * Lets through a valid session cookie, or what the admin API accepts (bearer, or HTTP basic
 * with the token as password, through requireToken). A browser page request without either goes
 * to the login page; anything else gets requireToken's 401 and its Basic challenge.
 */
export function authenticate(deps: GuardDeps): RequestHandler {
  const viaHeader = requireToken(deps.token, { basic: true });
  return (req, res, next) => {
    if (deps.token === null) {
      res.locals.principal = { kind: 'open' } satisfies Principal;
      next();
      return;
    }
    const session = verifySession(deps.keys, readCookie(req.headers.cookie, SESSION_COOKIE), deps.now().getTime());
    if (session) {
      res.locals.principal = { kind: 'session', session } satisfies Principal;
      next();
      return;
    }
    if (!req.headers.authorization && wantsHtml(req)) {
      res.redirect(303, `/login?next=${encodeURIComponent(safeNext(req.originalUrl))}`);
      return;
    }
    viaHeader(req, res, () => {
      const bearer = presentedToken(req.headers.authorization, false) !== null;
      res.locals.principal = (bearer ? { kind: 'bearer' } : { kind: 'basic' }) satisfies Principal;
      next();
    });
  };
}

/**
 * Refuses a state-changing request that a browser marks as coming from another site: a
 * `Sec-Fetch-Site` other than same-origin, or an `Origin` other than this host. Runs before
 * login too, so another site cannot log a browser in either.
 */
export function sameOriginOnly(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    if ((site !== undefined && site !== 'same-origin') || (origin !== undefined && origin !== `${req.protocol}://${req.get('host') ?? ''}`)) {
      res.status(403).type('text/plain').send('cross-site request refused');
      return;
    }
    next();
  };
}

/**
 * The CSRF token of the request's principal, from the `_csrf` form field or the `X-CSRF-Token`
 * header. A bearer request carries none: no browser sends a bearer header by itself.
 */
export function requireCsrf(deps: GuardDeps): RequestHandler {
  return (req, res, next) => {
    const principal = principalOf(res);
    if (SAFE_METHODS.has(req.method) || principal.kind === 'bearer') {
      next();
      return;
    }
    const body = req.body as Record<string, unknown> | undefined;
    const given = req.get('x-csrf-token') ?? body?._csrf;
    if (!csrfMatches(deps.keys, principal, given)) {
      res.status(403).type('text/plain').send('missing or wrong CSRF token: reload the page and try again');
      return;
    }
    next();
  };
}
