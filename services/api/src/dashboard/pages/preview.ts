import type { RequestHandler, Response } from 'express';
import { parseMetricsCsv, type MetricRow } from '../../../../../shared/models/backtest.js';
import { csrfOf, findBatch, render, shownBatches, type Ctx } from '../context.js';
import { html, type Html } from '../html.js';
import { notice } from '../layout.js';
import { parsePreviewForm, PreviewInputError, PREVIEW_LIMITS, previewSettings, runPreview, type PreviewForm, type PreviewResult } from '../preview-run.js';
import { previewHistory } from '../queries.js';

/**
 * Preview (docs/contract.md, "Dashboard"): pick a batch (or paste/upload a CSV), replay its
 * stored history through `anomstack backtest`'s core with the batch's config or edited alert
 * settings, and chart the alerts it would have sent. GET shows the form; POST (CSRF) runs it.
 */
function form(ctx: Ctx, res: Response, values: Partial<PreviewForm>): Html {
  const field = (name: string, label: string, value: number | string | null | undefined, hint: string): Html =>
    html`<label class="field"><span>${label}</span><input type="text" name="${name}" value="${value ?? ''}" placeholder="${hint}"></label>`;
  return html`<form method="post" action="/preview" class="preview-form" id="preview-form">
    <input type="hidden" name="_csrf" value="${csrfOf(ctx, res)}">
    <div class="toolbar">
      <label class="field"><span>Batch</span><select name="batch">${shownBatches(ctx).map((b) => html`<option${b.name === values.batch ? html` selected` : ''}>${b.name}</option>`)}</select></label>
      ${field('metric', 'Metrics (regex)', values.metric, 'all')}
      ${field('points', 'Points per metric', values.points ?? PREVIEW_LIMITS.points, String(PREVIEW_LIMITS.points))}
      ${field('alert_threshold', 'alert_threshold', values.threshold, "the batch's")}
      ${field('alert_smooth_n', 'alert_smooth_n', values.smoothN, "the batch's")}
      ${field('alert_snooze_n', 'alert_snooze_n', values.snoozeN, "the batch's")}
    </div>
    <details${values.csv ? html` open` : ''}><summary>Or replay a CSV instead of the stored history</summary>
      <p class="muted small">Columns metric_name, metric_timestamp, metric_value (as <code>anomstack backtest</code> reads); at most ${String(PREVIEW_LIMITS.csvRows)} rows. The batch's config is used.</p>
      <input type="file" id="preview-file" accept=".csv,text/csv">
      <textarea name="csv" id="preview-csv" rows="6" spellcheck="false">${values.csv ?? ''}</textarea>
    </details>
    <p><button class="primary" id="preview-run">Run backtest</button> <span class="muted small">Up to ${String(PREVIEW_LIMITS.metrics)} metrics, ${String(PREVIEW_LIMITS.budgetMs / 1000)} s.</span></p>
  </form>`;
}

const INTRO = html`<div class="head"><div><h1>Preview</h1><p>Replay detection on a batch's stored history (or a CSV) and see the alerts it would have sent. Nothing is written or sent.</p></div></div>`;

export function previewPage(ctx: Ctx): RequestHandler {
  return (req, res) => {
    const batch = typeof req.query.batch === 'string' ? req.query.batch : shownBatches(ctx)[0]?.name;
    render(ctx, res, { title: 'Preview', section: 'preview', charts: true, body: html`${INTRO}${form(ctx, res, { batch })}` });
  };
}

function results(result: PreviewResult): Html {
  const total = result.metrics.reduce((sum, m) => sum + m.alerts, 0);
  const data = JSON.stringify({ threshold: result.threshold, metrics: result.metrics.map((m) => ({ name: m.name, series: m.series })) });
  return html`${notice('ok', `${total} alerts would have been sent over ${result.metrics.length} metrics (${result.rows} points, alert_threshold ${result.threshold}), in ${result.seconds.toFixed(1)} s.`)}
    ${result.notRun.length > 0 ? notice('info', `Not replayed (over ${PREVIEW_LIMITS.metrics} metrics or ${PREVIEW_LIMITS.budgetMs / 1000} s): ${result.notRun.slice(0, 20).join(', ')}${result.notRun.length > 20 ? ', ...' : ''}. Narrow the metric regex.`) : ''}
    <div id="preview-charts" class="charts" data-preview="${data}" data-count="${String(result.metrics.length)}">
      ${result.metrics.map(
        (m) => html`<article class="card chart-card preview-card" data-metric="${m.name}" data-alerts="${String(m.alerts)}" data-alert-times="${m.alertTimes.join(' ')}">
          <div class="card-title"><h3 class="mono">${m.name}</h3><span class="badge ${m.alerts > 0 ? 'alert' : 'quiet'}">${String(m.alerts)} alerts</span></div>
          <div class="chart"></div>
          <div class="muted small">${m.alerts > 0 ? `alerts at ${m.alertTimes.slice(0, 5).join(', ')}${m.alerts > 5 ? ', ...' : ''}` : 'no alerts'}${m.errors.length > 0 ? ` · ${m.errors.slice(0, 2).join('; ')}` : ''}</div>
        </article>`,
      )}
    </div>`;
}

export function runPreviewPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    let values: Partial<PreviewForm> = { batch: typeof body.batch === 'string' ? body.batch : undefined, csv: typeof body.csv === 'string' ? body.csv : null };
    try {
      const parsed = parsePreviewForm(body);
      values = parsed;
      const batch = findBatch(ctx, parsed.batch);
      const settings = previewSettings(batch, parsed);
      let rows: MetricRow[];
      if (parsed.csv !== null) {
        try {
          rows = parseMetricsCsv(parsed.csv);
        } catch (error) {
          throw new PreviewInputError(`csv: ${(error as Error).message}`);
        }
        if (rows.length > PREVIEW_LIMITS.csvRows) {
          throw new PreviewInputError(`csv: ${rows.length} rows, more than the preview's ${PREVIEW_LIMITS.csvRows}; use anomstack backtest for larger files`);
        }
      } else {
        rows = await previewHistory(ctx.deps.db, batch, { metric: parsed.metric, points: parsed.points, metrics: PREVIEW_LIMITS.metrics + 1 });
      }
      if (rows.length === 0) {
        throw new PreviewInputError(parsed.csv !== null ? 'csv: no rows' : `batch ${batch.name}: no stored metric points${parsed.metric ? ` matching /${parsed.metric}/` : ''}`);
      }
      const result = runPreview(rows, settings, parsed);
      ctx.deps.log.info({ batch: batch.name, metrics: result.metrics.length, rows: result.rows, seconds: result.seconds }, 'dashboard preview backtest');
      render(ctx, res, { title: 'Preview', section: 'preview', charts: true, body: html`${INTRO}${form(ctx, res, values)}${results(result)}` });
    } catch (error) {
      if (!(error instanceof PreviewInputError)) {
        throw error;
      }
      render(ctx, res, { title: 'Preview', section: 'preview', charts: true, body: html`${INTRO}${notice('error', error.message)}${form(ctx, res, values)}` }, 400);
    }
  };
}
