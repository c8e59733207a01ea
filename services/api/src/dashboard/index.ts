import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import { assetsRouter } from './assets.js';
import { HttpError, type Ctx, type DashboardDeps } from './context.js';
import { authenticate, requireCsrf, sameOriginOnly } from './guard.js';
import { html } from './html.js';
import { notice, page } from './layout.js';
import { anomaliesPage } from './pages/anomalies.js';
import { batchCharts, batchPage } from './pages/batch.js';
import { postFeedback } from './pages/feedback.js';
import { homePage } from './pages/home.js';
import { doLogin, doLogout, LOGIN_LIMIT, showLogin } from './pages/login.js';
import { createFailureLimiter } from './rate-limit.js';
import { metricPage, metricSeries } from './pages/metric.js';
import { previewPage, runPreviewPage } from './pages/preview.js';
import { PREVIEW_LIMITS } from './preview-run.js';
import { runPage, runsPage } from './pages/runs.js';
import { scheduleAction, schedulesPage } from './pages/schedules.js';
import { UserInputError } from './queries.js';
import { sessionKeys } from './session.js';

export type { DashboardDeps } from './context.js';

/**
 * Strict CSP: scripts, styles and everything else only from this origin, no inline script or
 * style, no framing; no `upgrade-insecure-requests`, so the dashboard works over plain HTTP.
 */
const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
  },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  // With helmet's no-referrer, Chromium sends `Origin: null` on our own form posts.
  referrerPolicy: { policy: 'same-origin' },
});

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * The dashboard (docs/contract.md, "Dashboard"): pages at /, /batches/..., /anomalies, /runs,
 * /schedules, /preview, the login at /login and its assets under /assets. It answers only its
 * own paths; everything else falls through to the admin API.
 */
export function dashboardRouter(deps: DashboardDeps): express.Router {
  const ctx: Ctx = { deps, keys: sessionKeys(deps.token), now: deps.now ?? (() => new Date()), loginFailures: createFailureLimiter(LOGIN_LIMIT) };
  const guard = { token: deps.token, keys: ctx.keys, now: ctx.now };
  const bodies = [express.urlencoded({ extended: false, limit: '16kb' }), express.json({ limit: '16kb' })];
  const open = [securityHeaders, noStore, sameOriginOnly(), ...bodies];
  const authed = [securityHeaders, noStore, sameOriginOnly(), authenticate(guard), ...bodies, requireCsrf(guard)];
  // The Preview form carries a pasted CSV: its own, larger (still bounded) body limit.
  const previewBody = express.urlencoded({ extended: false, limit: PREVIEW_LIMITS.bodyBytes, parameterLimit: 20 });
  const authedPreview = [securityHeaders, noStore, sameOriginOnly(), authenticate(guard), previewBody, requireCsrf(guard)];

  const router = express.Router();
  router.use('/assets', securityHeaders);
  router.use(assetsRouter());
  router.get('/login', ...open, showLogin(ctx));
  router.post('/login', ...open, doLogin(ctx));
  router.post('/logout', ...authed, doLogout());
  router.get('/', ...authed, homePage(ctx));
  router.get('/batches/:batch', ...authed, batchPage(ctx));
  router.get('/batches/:batch/charts.json', ...authed, batchCharts(ctx));
  router.get('/batches/:batch/metric', ...authed, metricPage(ctx));
  router.get('/batches/:batch/metric.json', ...authed, metricSeries(ctx));
  router.get('/anomalies', ...authed, anomaliesPage(ctx));
  router.post('/feedback', ...authed, postFeedback(ctx));
  router.get('/runs', ...authed, runsPage(ctx));
  router.get('/runs/:id', ...authed, runPage(ctx));
  router.get('/schedules', ...authed, schedulesPage(ctx));
  router.post('/schedules/:batch/:job/:action', ...authed, scheduleAction(ctx));
  router.get('/preview', ...authed, previewPage(ctx));
  router.post('/preview', ...authedPreview, runPreviewPage(ctx));

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const status = error instanceof HttpError ? error.status : error instanceof UserInputError ? 400 : statusOf(error);
    if (status >= 500) {
      deps.log.error({ err: error, path: req.path }, 'dashboard request failed');
    }
    const message = status >= 500 ? 'Something went wrong on the server; the log has the details.' : (error as Error).message;
    if (req.is('application/json') || req.path.endsWith('.json')) {
      res.status(status).json({ error: message });
      return;
    }
    res
      .status(status)
      .type('html')
      .send(page({ title: `Error ${status}`, section: 'home', body: html`<div class="head"><h1>Error ${String(status)}</h1></div>${notice('error', message)}<p><a href="/">Back to the batches</a></p>` }));
  };
  router.use(onError);
  return router;
}

function statusOf(error: unknown): number {
  const status = (error as { status?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}
