import type { RequestHandler } from 'express';
import type { MetricBatch } from '../../../../../shared/config/metric-batch.js';
import { csrfOf, findBatch, metricName, render, type Ctx } from '../context.js';
import { html, href, type Html } from '../html.js';
import { num, utc } from '../layout.js';
import { ALERT_TYPES, anomalies, modelVersions, seriesOf } from '../queries.js';
import { chartKeys } from './batch.js';
import { verdictLabel, voteButtons } from './feedback.js';

/** The most points the full-history chart draws. */
const HISTORY_POINTS = 20_000;

/** One metric: full history (drag to zoom), its alerts with feedback, its models and config. */
export function metricPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const batch = findBatch(ctx, req.params.batch);
    const name = metricName(req.query.name);
    const [alerts, models] = await Promise.all([
      anomalies(ctx.deps.db, [batch], { types: ALERT_TYPES, limit: 200, offset: 0, metric: name }),
      modelVersions(ctx.deps.db, batch.name, name),
    ]);
    const back = href(`/batches/${batch.name}/metric`, { name });
    const csrf = csrfOf(ctx, res);
    render(ctx, res, {
      title: `${name} · ${batch.name}`,
      section: 'home',
      charts: true,
      body: html`<div class="head"><div><div class="crumbs"><a href="/">Batches</a> / <a href="/batches/${batch.name}">${batch.name}</a> /</div><h1 class="mono">${name}</h1>
          <p>${alerts.length} alerts · drag across the chart to zoom, double-click to reset</p></div></div>
        <article class="card"><div class="chart big" id="metric-chart" data-src="${href(`/batches/${batch.name}/metric.json`, { name })}"></div>${chartKeys}</article>
        <h2>Alerts</h2>
        ${alerts.length === 0
          ? html`<div class="empty">No alerts for this metric.</div>`
          : html`<div class="table-wrap"><table class="list" id="alerts"><thead><tr><th>time (UTC)</th><th>type</th><th>value</th><th>score</th><th>verdict</th><th>feedback</th></tr></thead><tbody>
            ${alerts.map(
              (a) => html`<tr><td class="mono">${utc(a.time)}</td><td><span class="badge ${a.type}">${a.type}</span></td><td class="num">${num(a.value)}</td>
                <td class="num">${num(scoreOf(a.metadata), 3)}</td><td>${verdictLabel(a.verdict)}</td><td>${voteButtons(a, csrf, back)}</td></tr>`,
            )}</tbody></table></div>`}
        <h2>Models</h2>
        ${models.length === 0
          ? html`<div class="empty">No trained model yet.</div>`
          : html`<div class="table-wrap"><table class="list"><thead><tr><th>tag</th><th>model</th><th>version</th><th>trained (UTC)</th><th>training rows</th></tr></thead><tbody>
            ${models.map((m) => html`<tr><td>${m.tag}</td><td>${m.model}</td><td class="mono">${String(m.version)}</td><td class="mono">${utc(m.trainedAt)}</td><td class="num">${m.nTrain}</td></tr>`)}
            </tbody></table></div>`}
        <h2>Config</h2>
        ${configTable(batch, name)}`,
    });
  };
}

/** The score an alert row's metadata carries: the smoothed score, the MAD score, or the value at a breach. */
export function scoreOf(metadata: Record<string, unknown> | null): number | null {
  const value = metadata?.metric_score_smooth ?? metadata?.metric_score ?? metadata?.mad_score ?? null;
  return typeof value === 'number' ? value : null;
}

function configTable(batch: MetricBatch, metric: string): Html {
  const c = batch.config;
  const excluded = (list: readonly string[] | null | undefined): string => (list?.includes(metric) ? 'excluded' : 'included');
  const rows: Array<[string, unknown]> = [
    ['file', batch.file],
    ['table_key', c.table_key],
    ['alert_threshold', c.alert_threshold],
    ['alert_recent_n / smooth_n / snooze_n', `${c.alert_recent_n} / ${c.alert_smooth_n} / ${c.alert_snooze_n}`],
    ['alert_methods', c.alert_methods],
    ['change_threshold', c.change_threshold],
    ['tholdalert_thresholds', c.tholdalert_thresholds?.[metric] ?? null],
    ['metric_tags', c.metric_tags?.[metric] ?? null],
    ['model_configs', c.model_configs],
    ['model_combination_method', c.model_combination_method],
    ['preprocess_params', c.preprocess_params],
    ['train', excluded(c.train_exclude_metrics)],
    ['score', excluded(c.score_exclude_metrics)],
    ['alert', excluded(c.alert_exclude_metrics)],
  ];
  return html`<div class="table-wrap"><table class="list kv" id="config"><tbody>${rows.map(
    ([key, value]) => html`<tr><th class="mono">${key}</th><td class="mono">${typeof value === 'string' ? value : JSON.stringify(value)}</td></tr>`,
  )}</tbody></table></div>`;
}

/** The metric's full history for the zoomable chart. */
export function metricSeries(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const batch = findBatch(ctx, req.params.batch);
    const name = metricName(req.query.name);
    const series = await seriesOf(ctx.deps.db, batch, [name], { label: 'all', since: null, points: HISTORY_POINTS });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ name, threshold: batch.config.alert_threshold, series: series.get(name) ?? null });
  };
}
