import type { RequestHandler } from 'express';
import { findBatch, HttpError, metricName, type Ctx } from '../context.js';
import { safeNext } from '../guard.js';
import { html, trusted, type Html } from '../html.js';
import { setFeedback, type Anomaly, type Vote } from '../queries.js';

const ICON_UP = trusted(
  '<svg viewBox="0 0 24 24" width="15" height="15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"/></svg>',
);
const ICON_DOWN = trusted(
  '<svg viewBox="0 0 24 24" width="15" height="15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"/></svg>',
);

/** Thumbs up/down on one alert: a plain form (works without script), posting to /feedback. */
export function voteButtons(a: Pick<Anomaly, 'batch' | 'metric' | 'time' | 'verdict'>, csrf: string, back: string): Html {
  const pressed = (v: 'up' | 'down'): Html => trusted(a.verdict === v ? ' aria-pressed="true"' : ' aria-pressed="false"');
  return html`<form method="post" action="/feedback" class="vote">
    <input type="hidden" name="_csrf" value="${csrf}">
    <input type="hidden" name="batch" value="${a.batch}">
    <input type="hidden" name="metric" value="${a.metric}">
    <input type="hidden" name="time" value="${a.time.toISOString()}">
    <input type="hidden" name="back" value="${back}">
    <button class="up" name="vote" value="up" title="Confirm: a real anomaly (alerts at least this unusual keep firing)" aria-label="thumbs up"${pressed('up')}>${ICON_UP}</button>
    <button class="down" name="vote" value="down" title="False alarm: keeps this point out of training and mutes alerts of this metric no more unusual than it (alert_feedback_horizon_days)" aria-label="thumbs down"${pressed('down')}>${ICON_DOWN}</button>
    ${a.verdict ? html`<button class="link small" name="vote" value="clear" title="Take the verdict back">clear</button>` : ''}
  </form>`;
}

export const verdictLabel = (verdict: Anomaly['verdict']): Html =>
  verdict === 'down' ? html`<span class="verdict down">false alarm</span>` : verdict === 'up' ? html`<span class="verdict up">confirmed</span>` : html``;

const VOTES: readonly Vote[] = ['up', 'down', 'clear'];

/** POST /feedback {batch, metric, time, vote}: 303 back to the page, or JSON for a fetch. */
export function postFeedback(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const batch = findBatch(ctx, body.batch);
    const metric = metricName(body.metric);
    const time = typeof body.time === 'string' ? new Date(body.time) : new Date(Number.NaN);
    const vote = body.vote as Vote;
    if (Number.isNaN(time.getTime()) || !VOTES.includes(vote)) {
      throw new HttpError(400, 'feedback needs batch, metric, time (ISO) and vote (up, down or clear)');
    }
    if (!(await setFeedback(ctx.deps.db, batch, metric, time, vote))) {
      throw new HttpError(404, `no alert of ${batch.name}/${metric} at ${time.toISOString()}`);
    }
    ctx.deps.log.info({ batch: batch.name, metric, time: time.toISOString(), vote }, 'alert feedback from the dashboard');
    if (req.is('application/json')) {
      res.json({ batch: batch.name, metric, time: time.toISOString(), verdict: vote === 'clear' ? null : vote });
      return;
    }
    res.redirect(303, safeNext(body.back));
  };
}
