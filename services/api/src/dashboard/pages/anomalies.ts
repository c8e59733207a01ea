import type { RequestHandler } from 'express';
import { csrfOf, queryText, render, shownBatches, type Ctx } from '../context.js';
import { html, href, trusted } from '../html.js';
import { notice, num, utc } from '../layout.js';
import { ALERT_TYPES, anomalies, type AlertType } from '../queries.js';
import { sparkline } from '../sparkline.js';
import { pageNumber, pager } from './controls.js';
import { verdictLabel, voteButtons } from './feedback.js';
import { scoreOf } from './metric.js';

const PER_PAGE = 25;

/** Every alert, change and threshold alert, newest first, with a sparkline and thumbs up/down. */
export function anomaliesPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const all = shownBatches(ctx);
    const batchFilter = queryText(req, 'batch', 200);
    const typeFilter = queryText(req, 'type', 20);
    const types: AlertType[] = typeFilter && (ALERT_TYPES as readonly string[]).includes(typeFilter) ? [typeFilter as AlertType] : [...ALERT_TYPES];
    const batches = batchFilter ? all.filter((b) => b.name === batchFilter) : all;
    const pageNo = pageNumber(req.query.page);
    const rows = await anomalies(ctx.deps.db, batches, { types, limit: PER_PAGE + 1, offset: pageNo * PER_PAGE });
    const shown = rows.slice(0, PER_PAGE);
    const query = { batch: batchFilter, type: typeFilter };
    const back = href('/anomalies', { ...query, page: pageNo > 0 ? String(pageNo) : null });
    const csrf = csrfOf(ctx, res);
    const done = queryText(req, 'done', 200);
    render(ctx, res, {
      title: 'Anomalies',
      section: 'anomalies',
      body: html`<div class="head"><div><h1>Anomalies</h1><p>Newest first. Thumbs down marks a false alarm, thumbs up confirms it.</p></div></div>
        ${done ? notice('ok', done) : ''}
        <form class="toolbar" method="get" action="/anomalies">
          <select name="batch" aria-label="batch"><option value="">all batches</option>${all.map((b) => html`<option${trusted(b.name === batchFilter ? ' selected' : '')}>${b.name}</option>`)}</select>
          <select name="type" aria-label="type"><option value="">all types</option>${ALERT_TYPES.map((t) => html`<option${trusted(t === typeFilter ? ' selected' : '')}>${t}</option>`)}</select>
          <button type="submit">Filter</button>
        </form>
        ${shown.length === 0
          ? html`<div class="empty">No anomalies${batchFilter || typeFilter ? ' match these filters' : ' yet'}.</div>`
          : html`<div class="table-wrap"><table class="list" id="anomalies"><thead><tr><th>time (UTC)</th><th>batch</th><th>metric</th><th>type</th><th>recent values</th><th>value</th><th>score</th><th>verdict</th><th>feedback</th></tr></thead><tbody>
            ${shown.map(
              (a) => html`<tr data-metric="${a.metric}" data-time="${a.time.toISOString()}">
                <td class="mono">${utc(a.time)}</td>
                <td><a href="/batches/${a.batch}">${a.batch}</a></td>
                <td><a class="mono" href="${href(`/batches/${a.batch}/metric`, { name: a.metric })}">${a.metric}</a></td>
                <td><span class="badge ${a.type}">${a.type}</span></td>
                <td>${sparkline(a.spark, `${a.metric} before the alert`)}</td>
                <td class="num">${num(a.value)}</td>
                <td class="num">${num(scoreOf(a.metadata), 3)}</td>
                <td>${verdictLabel(a.verdict)}</td>
                <td>${voteButtons(a, csrf, back)}</td></tr>`,
            )}</tbody></table></div>`}
        ${pager('/anomalies', query, pageNo, rows.length > PER_PAGE)}`,
    });
  };
}
