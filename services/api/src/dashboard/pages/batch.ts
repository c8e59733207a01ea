import type { RequestHandler } from 'express';
import { findBatch, queryText, render, type Ctx } from '../context.js';
import { html, href } from '../html.js';
import { notice, pct } from '../layout.js';
import { checkRegex, metricStats, seriesOf, UserInputError, type MetricStat } from '../queries.js';
import { parseWindow } from '../window.js';
import { pageNumber, windowSwitch } from './controls.js';

/** Charts per lazy-loaded page of the batch view. */
export const CHARTS_PER_PAGE = 12;

export const chartKeys = html`<div class="legend-keys"><span class="key value">value</span><span class="key score">score</span><span class="key alert">alert</span><span class="key change">change</span><span class="key thold">threshold</span><span class="key down">false alarm</span><span class="key band">expected band</span></div>`;

/** The batch view: the controls and an empty grid that charts.js fills a page at a time. */
export function batchPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const batch = findBatch(ctx, req.params.batch);
    const window = parseWindow(req.query.window, ctx.now(), '24h');
    const q = queryText(req, 'q', 200);
    let error: string | null = null;
    try {
      // The counts and the charts come from charts.json (one read of the stats per view).
      if (q !== null) {
        await checkRegex(ctx.deps.db, q);
      }
    } catch (e) {
      if (!(e instanceof UserInputError)) {
        throw e;
      }
      error = e.message;
    }
    const path = `/batches/${batch.name}`;
    render(ctx, res, {
      title: batch.name,
      section: 'home',
      charts: true,
      body: html`<div class="head">
          <div><div class="crumbs"><a href="/">Batches</a> /</div><h1>${batch.name}</h1>
            <p><span id="batch-counts">metrics</span>${q ? html` matching <code>${q}</code>` : ''} · sorted by anomaly rate</p></div>
          <div class="toolbar">
            <a class="button" href="${href('/anomalies', { batch: batch.name })}">Anomalies</a>
            <a class="button" href="${href('/runs', { batch: batch.name })}">Runs</a>
          </div>
        </div>
        <form class="toolbar" method="get" action="${path}" role="search">
          <input type="hidden" name="window" value="${window.label}">
          <input class="grow" type="search" name="q" value="${q ?? ''}" placeholder="Filter metrics by regex, e.g. ^cpu|latency$" aria-label="metric name regex">
          <button type="submit">Search</button>
          ${windowSwitch(path, window, { q })}
        </form>
        ${chartKeys}
        ${error ? notice('error', error) : ''}
        ${!error
          ? html`<section class="charts" id="charts" data-src="${href(`${path}/charts.json`, { q, window: window.label })}" data-window="${window.label}"></section>
            <div class="sentinel" id="more"><button type="button" id="load-more">Load more charts</button></div>`
          : ''}`,
    });
  };
}

/** A page of the batch's charts: stats and chart columns for CHARTS_PER_PAGE metrics. */
export function batchCharts(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const batch = findBatch(ctx, req.params.batch);
    const window = parseWindow(req.query.window, ctx.now(), '24h');
    const pageNo = pageNumber(req.query.page);
    let stats: MetricStat[];
    try {
      stats = await metricStats(ctx.deps.db, batch, window, queryText(req, 'q', 200));
    } catch (e) {
      if (e instanceof UserInputError) {
        res.status(400).json({ error: e.message });
        return;
      }
      throw e;
    }
    const slice = stats.slice(pageNo * CHARTS_PER_PAGE, (pageNo + 1) * CHARTS_PER_PAGE);
    const series = await seriesOf(ctx.deps.db, batch, slice.map((s) => s.name), window);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      total: stats.length,
      alerting: stats.filter((s) => s.anomalyRate > 0).length,
      page: pageNo,
      next: (pageNo + 1) * CHARTS_PER_PAGE < stats.length ? pageNo + 1 : null,
      threshold: batch.config.alert_threshold,
      metrics: slice.map((s) => ({
        name: s.name,
        href: href(`/batches/${batch.name}/metric`, { name: s.name }),
        summary: `${s.points} points · ${s.alerts} alerts · ${s.changes} changes · ${s.tholdalerts} thresholds · ${pct(s.anomalyRate)} anomalous`,
        anomalous: s.anomalyRate > 0,
        series: series.get(s.name) ?? null,
      })),
    });
  };
}
