import type { RequestHandler } from 'express';
import { isJobName, JOB_NAMES, type JobName } from '../../../../../shared/jobs.js';
import { definedSchedules, scheduleOf, shouldRun } from '../../../../../shared/schedules/plan.js';
import { existingSchedules, readOverrides } from '../../../../../shared/schedules/store.js';
import { definedSchedule, enqueueRun, manualSlot, setSchedulePaused } from '../actions.js';
import { csrfOf, findBatch, HttpError, queryText, render, type Ctx } from '../context.js';
import { html, href, type Html } from '../html.js';
import { notice, utc } from '../layout.js';

const button = (action: string, csrf: string, label: string, primary = false): Html =>
  html`<form method="post" action="${action}" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button class="small${primary ? ' primary' : ''}" type="submit">${label}</button></form>`;

/** Per batch and job: cron, config status, API override, next run; pause/resume and run now. */
export function schedulesPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const load = ctx.deps.catalog.get();
    const [existing, overrides] = await Promise.all([existingSchedules(ctx.deps.queues), readOverrides(ctx.deps.redis, ctx.deps.prefix)]);
    const defined = new Map(definedSchedules(load.batches).map((s) => [s.id, s]));
    const next = new Map(existing.map((e) => [e.id, e.next ?? null]));
    const csrf = csrfOf(ctx, res);
    const done = queryText(req, 'done', 300);
    render(ctx, res, {
      title: 'Schedules',
      section: 'schedules',
      body: html`<div class="head"><div><h1>Schedules</h1><p>Pause or resume a batch's cron, or run a job now (the admin API's actions). Times are UTC.</p></div></div>
        ${done ? notice('ok', done) : ''}
        ${load.batches.map(
          (batch) => html`<h2 id="${`b-${batch.name}`}"><a href="/batches/${batch.name}">${batch.name}</a></h2>
          <div class="table-wrap"><table class="list schedules" data-batch="${batch.name}"><thead><tr><th>job</th><th>cron</th><th>config</th><th>state</th><th>next run</th><th></th></tr></thead><tbody>
          ${JOB_NAMES.filter((job) => !batch.disabled[job]).map((job) => {
            const schedule = scheduleOf(defined, job, batch.name);
            const runs = schedule ? shouldRun(schedule, overrides) : false;
            const nextRun = schedule ? next.get(schedule.id) : null;
            const base = `/schedules/${batch.name}/${job}`;
            return html`<tr data-job="${job}"><td>${job}</td><td class="mono">${schedule?.pattern ?? html`<span class="muted">chained / manual</span>`}</td>
              <td>${schedule ? (schedule.running ? 'RUNNING' : 'STOPPED') : '–'}</td>
              <td>${schedule ? html`<span class="badge ${runs ? 'ok' : 'running'}">${runs ? 'scheduled' : overrides.paused.has(schedule.id) ? 'paused' : 'stopped'}</span>` : ''}</td>
              <td class="mono">${nextRun ? utc(new Date(nextRun)) : '–'}</td>
              <td>${schedule ? button(`${base}/${runs ? 'pause' : 'resume'}`, csrf, runs ? 'Pause' : 'Resume') : ''} ${button(`${base}/run`, csrf, 'Run now', true)}</td></tr>`;
          })}</tbody></table></div>`,
        )}`,
    });
  };
}

const jobOf = (value: unknown): JobName => {
  if (typeof value !== 'string' || !isJobName(value)) {
    throw new HttpError(404, `unknown job "${String(value)}"`);
  }
  return value;
};

/** POST /schedules/:batch/:job/(pause|resume|run), then back to the schedules page with a note. */
export function scheduleAction(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const batch = findBatch(ctx, req.params.batch);
    const job = jobOf(req.params.job);
    const action = req.params.action;
    let message: string;
    if (action === 'run') {
      const run = await enqueueRun(ctx.deps, job, batch, manualSlot(ctx.now()));
      message = run.created ? `Enqueued ${run.jobId}` : `${run.jobId} was already enqueued this minute (${run.state}): not run twice`;
    } else if (action === 'pause' || action === 'resume') {
      const schedule = definedSchedule(ctx.deps, job, batch.name);
      if (!schedule) {
        throw new HttpError(404, `batch "${batch.name}" has no ${job} schedule`);
      }
      await setSchedulePaused(ctx.deps, schedule, action === 'pause');
      message = `${action === 'pause' ? 'Paused' : 'Resumed'} ${schedule.id}`;
    } else {
      throw new HttpError(404, `unknown action "${String(action)}" (pause, resume or run)`);
    }
    ctx.deps.log.info({ batch: batch.name, job, action }, 'schedule action from the dashboard');
    res.redirect(303, `${href('/schedules', { done: message })}#b-${batch.name}`);
  };
}
