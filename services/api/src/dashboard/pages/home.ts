import type { RequestHandler } from 'express';
import type { ConfigProblem } from '../../../../../shared/config/schema.js';
import { render, shownBatches, type Ctx } from '../context.js';
import { html, href, type Html } from '../html.js';
import { age, num } from '../layout.js';
import { batchSummary, failedRunsByBatch, type BatchSummary, type FailedRun } from '../queries.js';
import { parseWindow } from '../window.js';
import { windowSwitch } from './controls.js';

interface Card {
  name: string;
  summary: BatchSummary;
  failed: FailedRun | undefined;
}

/** Home: one card per batch, the most alerting first; then batches whose config does not load. */
export function homePage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const now = ctx.now();
    const window = parseWindow(req.query.window, now, '24h');
    const since = window.since ?? new Date(now.getTime() - 86_400_000);
    const load = ctx.deps.catalog.get();
    const batches = shownBatches(ctx);
    const [summaries, failed] = await Promise.all([Promise.all(batches.map((b) => batchSummary(ctx.deps.db, b, since))), failedRunsByBatch(ctx.deps.db, since)]);
    const cards: Card[] = batches.map((b, i) => ({ name: b.name, summary: summaries[i] as BatchSummary, failed: failed.get(b.name) }));
    cards.sort((a, b) => b.summary.alerts - a.summary.alerts || b.summary.changes + b.summary.tholdalerts - (a.summary.changes + a.summary.tholdalerts) || a.name.localeCompare(b.name));
    const totals = cards.reduce((t, c) => ({ alerts: t.alerts + c.summary.alerts, metrics: t.metrics + c.summary.metrics }), { alerts: 0, metrics: 0 });
    const hidden = load.batches.length - batches.length;
    render(ctx, res, {
      title: 'Batches',
      section: 'home',
      body: html`<div class="head">
          <div><h1>Batches</h1><p>${cards.length} batches · ${totals.metrics} metrics · ${totals.alerts} alerts in the last ${window.label}</p></div>
          ${windowSwitch('/', window, {}, ['24h', '7d', '30d'])}
        </div>
        ${cards.length === 0 && load.problems.length === 0 ? html`<div class="empty">No batches yet. Add a batch YAML under the metrics directory, then reload.</div>` : ''}
        <div class="grid" id="batches">${cards.map((c) => card(c, window.label, now))}</div>
        ${problemCards(load.problems)}
        ${load.disabled.length + hidden > 0
          ? html`<p class="muted small">Not shown: ${load.disabled.length > 0 ? html`${load.disabled.join(', ')} (disable_batch)` : ''}${hidden > 0 ? html` ${hidden} with disable_dashboard` : ''}.</p>`
          : ''}`,
    });
  };
}

function card(c: Card, windowLabel: string, now: Date): Html {
  const s = c.summary;
  const status = s.alerts > 0 ? html`<span class="badge alert">${s.alerts} alert${s.alerts === 1 ? '' : 's'}</span>` : html`<span class="badge quiet">quiet</span>`;
  return html`<article class="card batch-card" data-batch="${c.name}">
    <div class="card-title"><h3><a href="${href(`/batches/${c.name}`, { window: windowLabel })}">${c.name}</a></h3>${status}</div>
    <div class="stats">
      <div class="stat"><b>${s.metrics}</b><span>metrics</span></div>
      <div class="stat alert"><b>${s.alerts}</b><span>alerts</span></div>
      <div class="stat change"><b>${s.changes}</b><span>changes</span></div>
      <div class="stat"><b>${s.tholdalerts}</b><span>thresholds</span></div>
      <div class="stat"><b>${num(s.meanScore, 2)}</b><span>mean score</span></div>
      <div class="stat"><b>${s.falseAlarms}</b><span>false alarms</span></div>
    </div>
    <div class="card-foot">
      <span title="newest point">newest ${age(s.newest, now)}</span>
      ${c.failed
        ? html`<a class="failed-run" href="/runs/${String(c.failed.id)}" title="${c.failed.error ?? ''}"><span class="badge failed">${c.failed.failures} failed</span> ${c.failed.job} ${age(c.failed.startedAt, now)}</a>`
        : html`<a href="${href('/runs', { batch: c.name })}" class="muted">runs</a>`}
    </div>
  </article>`;
}

function problemCards(problems: readonly ConfigProblem[]): Html {
  if (problems.length === 0) {
    return html``;
  }
  const byFile = new Map<string, ConfigProblem[]>();
  for (const p of problems) {
    byFile.set(p.file, [...(byFile.get(p.file) ?? []), p]);
  }
  return html`<h2>Invalid batches</h2><div class="grid" id="invalid">${[...byFile].map(
    ([file, list]) => html`<article class="card invalid"><div class="card-title"><h3 class="mono" title="${file}">${file.split('/').pop() ?? file}</h3><span class="badge failed">${list.length} error${list.length === 1 ? '' : 's'}</span></div>
      <ul>${list.map((p) => html`<li><code>${p.key}</code>: ${p.reason}</li>`)}</ul></article>`,
  )}</div>`;
}
