import type { RequestHandler } from 'express';
import { JOB_NAMES } from '../../../../../shared/jobs.js';
import { HttpError, queryText, render, type Ctx } from '../context.js';
import { html, href, trusted, type Html } from '../html.js';
import { utc } from '../layout.js';
import { jobRun, jobRuns, type JobRun } from '../queries.js';
import { pageNumber, pager } from './controls.js';

const PER_PAGE = 50;
const STATUSES = ['running', 'ok', 'skipped', 'failed'] as const;

const duration = (run: JobRun): string => {
  if (!run.finishedAt) {
    return '–';
  }
  const ms = run.finishedAt.getTime() - run.startedAt.getTime();
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
};

const slotOf = (run: JobRun): string => (typeof run.detail?.slot === 'string' ? utc(new Date(run.detail.slot)) : '–');

const select = (name: string, values: readonly string[], current: string | null, all: string): Html =>
  html`<select name="${name}" aria-label="${name}"><option value="">${all}</option>${values.map((v) => html`<option${trusted(v === current ? ' selected' : '')}>${v}</option>`)}</select>`;

/** The job-run records, newest first, filterable by batch, job and status. */
export function runsPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const filter = { batch: queryText(req, 'batch', 200), job: queryText(req, 'job', 40), status: queryText(req, 'status', 20) };
    const pageNo = pageNumber(req.query.page);
    const runs = await jobRuns(ctx.deps.db, filter, PER_PAGE + 1, pageNo * PER_PAGE);
    const batchNames = ctx.deps.catalog.get().batches.map((b) => b.name);
    render(ctx, res, {
      title: 'Runs',
      section: 'runs',
      body: html`<div class="head"><div><h1>Runs</h1><p>Every job run: what ran, for which slot, how long, what it wrote, why it failed.</p></div></div>
        <form class="toolbar" method="get" action="/runs">
          ${select('batch', batchNames, filter.batch, 'all batches')}${select('job', JOB_NAMES, filter.job, 'all jobs')}${select('status', STATUSES, filter.status, 'any status')}
          <button type="submit">Filter</button>
        </form>
        ${runs.length === 0
          ? html`<div class="empty">No runs${filter.batch || filter.job || filter.status ? ' match these filters' : ' yet'}.</div>`
          : html`<div class="table-wrap"><table class="list" id="runs"><thead><tr><th>#</th><th>batch</th><th>job</th><th>slot (UTC)</th><th>status</th><th>started (UTC)</th><th>duration</th><th>rows</th><th>error</th></tr></thead><tbody>
            ${runs.slice(0, PER_PAGE).map(
              (r) => html`<tr><td><a href="/runs/${String(r.id)}">${String(r.id)}</a></td><td><a href="${href('/runs', { ...filter, batch: r.batch })}">${r.batch}</a></td><td>${r.job}</td>
                <td class="mono">${slotOf(r)}</td><td><span class="badge ${r.status}">${r.status}</span></td><td class="mono">${utc(r.startedAt)}</td>
                <td class="num">${duration(r)}</td><td class="num">${r.rows}</td><td class="error" title="${r.error ?? ''}">${r.error ? html`<a href="/runs/${String(r.id)}">${r.error}</a>` : ''}</td></tr>`,
            )}</tbody></table></div>`}
        ${pager('/runs', filter, pageNo, runs.length > PER_PAGE)}`,
    });
  };
}

/** One run with its full error and detail. */
export function runPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const id = Number(req.params.id);
    const run = Number.isSafeInteger(id) && id > 0 ? await jobRun(ctx.deps.db, id) : null;
    if (!run) {
      throw new HttpError(404, `no run #${String(req.params.id)}`);
    }
    const rows: Array<[string, Html | string]> = [
      ['batch', html`<a href="/batches/${run.batch}">${run.batch}</a>`],
      ['job', run.job],
      ['status', html`<span class="badge ${run.status}">${run.status}</span>`],
      ['slot (UTC)', slotOf(run)],
      ['started (UTC)', utc(run.startedAt)],
      ['duration', duration(run)],
      ['rows written', String(run.rows)],
    ];
    render(ctx, res, {
      title: `Run #${run.id}`,
      section: 'runs',
      body: html`<div class="head"><div><div class="crumbs"><a href="/runs">Runs</a> /</div><h1>Run #${String(run.id)}: ${run.job} of ${run.batch}</h1></div>
          <a class="button" href="${href('/runs', { batch: run.batch, job: run.job })}">Runs of this job</a></div>
        <div class="table-wrap"><table class="list kv"><tbody>${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table></div>
        ${run.error ? html`<h2>Error</h2><pre id="run-error">${run.error}</pre>` : ''}
        <h2>Detail</h2><pre>${JSON.stringify(run.detail, null, 2)}</pre>`,
    });
  };
}
