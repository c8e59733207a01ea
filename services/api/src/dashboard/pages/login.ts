import type { RequestHandler } from 'express';
import type { Ctx } from '../context.js';
import { safeNext, tokenMatches } from '../guard.js';
import { html } from '../html.js';
import { notice, page } from '../layout.js';
import { issueSession, readCookie, SESSION_COOKIE, sessionCookie, verifySession } from '../session.js';

function loginPage(next: string, error: string | null): string {
  return page({
    title: 'Log in',
    section: 'login',
    body: html`<div class="login"><div class="card">
      <h1>Log in</h1>
      <p>Enter the admin token (<code>ANOMSTACK_ADMIN_TOKEN</code>).</p>
      ${error ? notice('error', error) : ''}
      <form method="post" action="/login">
        <input type="hidden" name="next" value="${next}">
        <label for="token">Admin token</label>
        <input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
        <button class="primary" type="submit">Log in</button>
      </form>
    </div></div>`,
  });
}

export function showLogin(ctx: Ctx): RequestHandler {
  return (req, res) => {
    const next = safeNext(req.query.next);
    if (ctx.deps.token === null || verifySession(ctx.keys, readCookie(req.headers.cookie, SESSION_COOKIE), ctx.now().getTime())) {
      res.redirect(303, next);
      return;
    }
    res.type('html').send(loginPage(next, null));
  };
}

/** Failed logins allowed per client address within the window, before a 429. */
export const LOGIN_LIMIT = { max: 10, windowMs: 15 * 60_000 } as const;

/** Checks the token (in constant time) and sets the signed session cookie; failures are rate-limited per address. */
export function doLogin(ctx: Ctx): RequestHandler {
  return (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    if (ctx.deps.token === null) {
      res.redirect(303, next);
      return;
    }
    const client = req.socket.remoteAddress ?? 'unknown';
    const now = ctx.now().getTime();
    const wait = ctx.loginFailures.retryAfter(client, now);
    if (wait !== null) {
      // Refused before the token is even compared: a guesser learns nothing more while blocked.
      res.setHeader('Retry-After', String(wait));
      res.status(429).type('html').send(loginPage(next, `Too many failed logins from this address (${LOGIN_LIMIT.max} in ${LOGIN_LIMIT.windowMs / 60_000} minutes); try again in ${wait} s.`));
      return;
    }
    if (typeof body.token !== 'string' || body.token.length > 4096 || !tokenMatches(ctx.deps.token, body.token)) {
      ctx.loginFailures.fail(client, now);
      ctx.deps.log.warn({ ip: client }, 'dashboard login with a wrong token');
      res.status(401).type('html').send(loginPage(next, 'Wrong token.'));
      return;
    }
    ctx.loginFailures.succeed(client);
    const { value } = issueSession(ctx.keys, ctx.now().getTime());
    res.setHeader('Set-Cookie', sessionCookie(value, req.secure));
    res.redirect(303, next);
  };
}

/** Clears the cookie (the CSRF check ran before). The cookie is stateless: rotating the token ends every session. */
export function doLogout(): RequestHandler {
  return (req, res) => {
    res.setHeader('Set-Cookie', sessionCookie('', req.secure, 0));
    res.redirect(303, '/login');
  };
}
