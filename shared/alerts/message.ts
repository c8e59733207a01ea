/**
 * The alert message model and its renderings: subject, plain text, HTML (every piece of metric
 * data escaped), Slack blocks, and the daily summary email. Pure functions, no I/O.
 */
import type { ChartPoint } from './chart.js';

export type AlertKind = 'anomaly' | 'change' | 'threshold' | 'llm';

/** Everything an alert says about one metric at one time. */
export interface AlertMessage {
  kind: AlertKind;
  batch: string;
  metric: string;
  /** The time of the alerting point. */
  timestamp: Date;
  value: number;
  /** Anomaly score (0-1) for `anomaly`, the MAD score for `change`; null when there is none. */
  score: number | null;
  scoreSmooth: number | null;
  /** `alert_threshold` for anomaly, `change_threshold` for change; null for threshold alerts. */
  threshold: number | null;
  /** The metric's `metric_tags`. */
  tags: Record<string, string | number | boolean>;
  /** Kind-specific facts, e.g. for a threshold alert `{ bound: 'upper', bound_value: 90 }`. */
  details: Record<string, string | number>;
  /** The last `alert_max_n` points, for the chart. */
  points: ChartPoint[];
  /** `llm` alerts: the model's explanation, shown as its own fact. */
  explanation?: string;
  /** `anomaly` alerts whose model gave one: the range the value was expected in (value units). */
  expected?: ExpectedRange;
  /** `anomaly` alerts: each model's score of the point (the score row's `metadata.models`), when known. */
  models?: ModelScore[];
}

/** One model's score of the alerting point. */
export interface ModelScore {
  tag: string;
  /** The config's `model_name` for the tag; null when the tag is no longer configured. */
  model: string | null;
  score: number;
  /** The score is 1 - a tail probability (Conformal), not a distance min-max scaled to 0-1. */
  calibrated: boolean;
}

/** The expected range of a value, as a score row's metadata holds it (`band: {lo, hi}`). */
export interface ExpectedRange {
  lo: number;
  hi: number;
}

/** A score row's `band`, or null when the metadata has none or it is not two finite numbers lo <= hi. */
export function readBand(metadata: Record<string, unknown> | null | undefined): ExpectedRange | null {
  return validRange(metadata?.band);
}

/** `band` as an expected range, or null when it is not `{lo, hi}` with finite numbers lo <= hi. */
export function validRange(band: unknown): ExpectedRange | null {
  if (typeof band !== 'object' || band === null) {
    return null;
  }
  const { lo, hi } = band as Record<string, unknown>;
  return typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi ? { lo, hi } : null;
}

/**
 * The per-model scores of a score row's metadata (`models: {tag: score}`), highest first; entries
 * that are not finite numbers are left out (the metadata may come from another version).
 */
export function readModelScores(
  metadata: Record<string, unknown> | null | undefined,
  configs: readonly { model_tag: string; model_name: string }[],
  isCalibrated: (modelName: string) => boolean,
): ModelScore[] {
  const models = metadata?.models;
  if (typeof models !== 'object' || models === null || Array.isArray(models)) {
    return [];
  }
  const names = new Map(configs.map((c) => [c.model_tag, c.model_name]));
  return Object.entries(models as Record<string, unknown>)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]))
    .map(([tag, score]) => {
      const model = names.get(tag) ?? null;
      return { tag, model, score, calibrated: model !== null && isCalibrated(model) };
    })
    .sort((a, b) => b.score - a.score || (a.tag < b.tag ? -1 : 1));
}

/** The model(s) with the highest score: the detector that fired (ties all fired). */
export function firedModels(message: AlertMessage): ModelScore[] {
  const models = message.models ?? [];
  const top = models[0]?.score;
  return top === undefined ? [] : models.filter((m) => m.score === top);
}

function modelLabel(m: ModelScore): string {
  return m.model === null || m.model === m.tag ? m.tag : `${m.tag} (${m.model})`;
}

/** Which detector fired: `conformal_default (Conformal) 0.999953`, with the other models' scores when there are some. */
export function formatDetector(message: AlertMessage): string | null {
  const fired = firedModels(message);
  if (message.kind !== 'anomaly' || fired.length === 0) {
    return null;
  }
  const others = (message.models ?? []).filter((m) => !fired.includes(m));
  const head = `${fired.map(modelLabel).join(' and ')} ${formatScore(fired[0]!.score)}`;
  if (others.length === 0) {
    return head;
  }
  return `${head}, the highest of ${message.models!.length} models (${others.map((m) => `${m.tag} ${formatScore(m.score)}`).join(', ')})`;
}

/**
 * 1 - score of the fired calibrated model: its estimate of the share of the metric's training
 * points (each with the values before it) at least this unusual; null without a calibrated model.
 */
export function tailProbability(message: AlertMessage): number | null {
  const calibrated = firedModels(message).find((m) => m.calibrated);
  return calibrated === undefined ? null : Math.max(0, 1 - calibrated.score);
}

/** Scores are stored to 6 places: below this the tail probability is not resolved. */
const MIN_RESOLVED_P = 1e-6;

/** `21,000`: two significant digits, thousands separated. */
function roundCount(n: number): string {
  return Number(n.toPrecision(2)).toLocaleString('en-US');
}

/**
 * How unusual, in words that claim no more than the score means. A calibrated score is 1 - p, p
 * the model's estimate (conformal, with a fitted tail beyond its calibration's 90th percentile) of
 * how many of the metric's training points are this unusual; another model's score is a distance
 * min-max scaled by its training points, so only "how far towards the most unusual one" is said.
 */
export function formatUnusual(message: AlertMessage): string | null {
  const fired = firedModels(message);
  const model = fired.find((m) => m.calibrated) ?? fired[0];
  if (message.kind !== 'anomaly' || model === undefined) {
    return null;
  }
  const name = model.model ?? model.tag;
  if (model.calibrated) {
    const p = Math.max(0, 1 - model.score);
    const rate = p < MIN_RESOLVED_P ? 'rarer than 1 in 1,000,000' : `about 1 in ${roundCount(1 / p)}`;
    return `${rate} of this metric's training points look this unusual (${name}'s estimate, 1 - score)`;
  }
  if (model.score >= 1) {
    return `at least as unusual as the most unusual point ${name} was trained on (score 1 on its 0-1 scale; not a rate)`;
  }
  return `score ${formatScore(model.score)} on ${name}'s 0-1 scale, where 1 is the most unusual point it was trained on (not a rate)`;
}

/** Why an anomaly alerted, in words: where the value sits against its expected range, and the score against the threshold. */
export function formatWhy(message: AlertMessage): string | null {
  if (message.kind !== 'anomaly' || message.expected === undefined) {
    return null;
  }
  const { lo, hi } = message.expected;
  const range = `${formatNumber(lo, 6)} to ${formatNumber(hi, 6)}`;
  const where = message.value > hi ? `above the expected range ${range}` : message.value < lo ? `below the expected range ${range}` : `inside the expected range ${range}, in an unusual pattern`;
  return `value ${formatNumber(message.value)} is ${where}; score ${formatScoreVersusThreshold(message)}`;
}

/** One labelled fact of a message, in display order. */
export interface AlertFact {
  label: string;
  value: string;
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers.

/** `YYYY-MM-DD HH:MM:SS UTC`; `invalid time` for an invalid Date. */
export function formatTimestamp(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) {
    return 'invalid time';
  }
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A number without float noise (0.1 + 0.2 shows as 0.3); `n/a` for null, NaN or infinity. */
export function formatNumber(value: number | null | undefined, significant = 10): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return 'n/a';
  }
  return String(Number(value.toPrecision(significant)));
}

/** 6 significant digits: a calibrated score's meaning is in its last places (0.99995 is not 0.9999). */
function formatScore(value: number | null): string {
  return formatNumber(value, 6);
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Escapes text for Slack mrkdwn (Slack asks for exactly these three). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function formatRecord(record: Record<string, string | number | boolean>): string {
  const entries = Object.entries(record);
  if (entries.length === 0) {
    return 'none';
  }
  return entries.map(([key, value]) => `${key}=${String(value)}`).join(', ');
}

const KIND_LABELS: Record<AlertKind, string> = {
  anomaly: 'anomaly',
  change: 'change',
  threshold: 'threshold',
  llm: 'LLM alert',
};

const KIND_HEADLINES: Record<AlertKind, string> = {
  anomaly: 'looks anomalous',
  change: 'looks changed',
  threshold: 'breached a threshold',
  llm: 'looks anomalous to the LLM',
};

/** `[batch] metric anomaly` (or `change` / `threshold`). Not header-safe by itself: email.ts sanitises. */
export function alertSubject(message: AlertMessage): string {
  return `[${message.batch}] ${message.metric} ${KIND_LABELS[message.kind]}`;
}

/** The smoothed score compared with the threshold, e.g. `0.91 >= threshold 0.8`. */
export function formatScoreVersusThreshold(message: AlertMessage): string {
  const smooth = formatScore(message.scoreSmooth);
  if (message.threshold === null || !Number.isFinite(message.threshold)) {
    return smooth;
  }
  const threshold = formatNumber(message.threshold, 6);
  if (message.scoreSmooth === null || !Number.isFinite(message.scoreSmooth)) {
    return `${smooth} (threshold ${threshold})`;
  }
  const comparison = message.scoreSmooth >= message.threshold ? '>=' : '<';
  return `${smooth} ${comparison} threshold ${threshold}`;
}

/** The facts every rendering shows, in order. Values are raw text: escape for the target. */
export function alertFacts(message: AlertMessage): AlertFact[] {
  const facts: AlertFact[] = [
    { label: 'Batch', value: message.batch },
    { label: 'Metric', value: message.metric },
    { label: 'Time', value: formatTimestamp(message.timestamp) },
    { label: 'Value', value: formatNumber(message.value) },
    { label: 'Score', value: formatScore(message.score) },
    { label: 'Smoothed score', value: formatScoreVersusThreshold(message) },
    { label: 'Tags', value: formatRecord(message.tags) },
  ];
  // After Value: why (the expected range), which detector fired and how unusual the point is.
  const explained = (
    [
      ['Why', formatWhy(message)],
      ['Detector', formatDetector(message)],
      ['How unusual', formatUnusual(message)],
    ] as const
  ).flatMap(([label, value]) => (value === null ? [] : [{ label, value }]));
  facts.splice(4, 0, ...explained);
  if (Object.keys(message.details).length > 0) {
    facts.push({ label: 'Details', value: formatRecord(message.details) });
  }
  if (message.explanation !== undefined) {
    facts.push({ label: 'Explanation', value: message.explanation });
  }
  return facts;
}

function headline(message: AlertMessage): string {
  return `${message.metric} ${KIND_HEADLINES[message.kind]} at ${formatTimestamp(message.timestamp)}`;
}

/** The plain-text body. */
export function alertText(message: AlertMessage): string {
  const facts = alertFacts(message);
  const width = Math.max(...facts.map((fact) => fact.label.length)) + 1;
  const lines = [
    headline(message),
    '',
    ...facts.map((fact) => `${`${fact.label}:`.padEnd(width + 1)}${fact.value}`),
    '',
    `Chart: the last ${message.points.length} points (value on top${message.points.some((p) => validRange(p.band) !== null) ? ', its expected range shaded' : ''}, score below).`,
    '',
    '-- anomstack',
  ];
  return `${lines.join('\n')}\n`;
}

export interface AlertHtmlOptions {
  /** Content-ID of the inline chart image; no image when absent. */
  imageCid?: string;
}

/** The HTML body: a fact table and, with `imageCid`, the inline chart. All data is escaped. */
export function alertHtml(message: AlertMessage, options: AlertHtmlOptions = {}): string {
  const rows = alertFacts(message)
    .map(
      (fact) =>
        `<tr><th align="left" style="padding:4px 16px 4px 0;color:#4b5563;font-weight:600;vertical-align:top">${escapeHtml(fact.label)}</th>` +
        `<td style="padding:4px 0;font-family:Menlo,Consolas,monospace">${escapeHtml(fact.value)}</td></tr>`,
    )
    .join('\n');
  const image =
    options.imageCid === undefined
      ? ''
      : `<p><img src="cid:${escapeHtml(options.imageCid)}" alt="${escapeHtml(`chart of ${message.metric}`)}" width="900" style="max-width:100%;height:auto;border:1px solid #e5e7eb"></p>`;
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>' + escapeHtml(alertSubject(message)) + '</title></head>',
    '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827">',
    `<h2 style="margin:0 0 12px 0">${escapeHtml(headline(message))}</h2>`,
    `<table style="border-collapse:collapse">\n${rows}\n</table>`,
    image,
    '<p style="color:#6b7280;font-size:12px">anomstack</p>',
    '</body></html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Slack.

/** A Slack Block Kit block, as much of it as we produce. */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; text?: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] };

// Slack's limits: header text 150 characters, section field 2000, section text 3000, 10 fields.
function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const SLACK_EMOJI: Record<AlertKind, string> = {
  anomaly: ':rotating_light:',
  change: ':chart_with_upwards_trend:',
  threshold: ':warning:',
  llm: ':robot_face:',
};

/** Fallback notification text for chat.postMessage (shown where blocks are not). */
export function alertSlackText(message: AlertMessage): string {
  return cap(alertSubject(message), 3000);
}

/** Blocks: a header, the facts as fields, tags and details as their own sections. */
export function alertSlackBlocks(message: AlertMessage): SlackBlock[] {
  const facts = alertFacts(message);
  // Sentences read better full width than in a two-column field (and Slack allows 10 fields).
  const apart = new Set(['Why', 'How unusual', 'Tags', 'Details', 'Explanation']);
  const inFields = facts.filter((fact) => !apart.has(fact.label));
  const rest = facts.filter((fact) => apart.has(fact.label));
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: cap(alertSubject(message), 150), emoji: false } },
    {
      type: 'section',
      fields: inFields.map((fact) => ({
        type: 'mrkdwn' as const,
        text: cap(`*${fact.label}*\n${escapeSlack(fact.value)}`, 2000),
      })),
    },
    ...rest.map(
      (fact): SlackBlock => ({
        type: 'section',
        text: { type: 'mrkdwn', text: cap(`*${fact.label}*\n${escapeSlack(fact.value)}`, 3000) },
      }),
    ),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cap(`${SLACK_EMOJI[message.kind]} ${escapeSlack(headline(message))} · chart in thread`, 3000),
        },
      ],
    },
  ];
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// Summary.

/** One alert, change or threshold row for the daily summary. */
export interface SummaryItem {
  batch: string;
  metric: string;
  metricType: 'alert' | 'change' | 'tholdalert';
  timestamp: Date;
  value: number;
}

export interface FormattedSummary {
  subject: string;
  text: string;
  html: string;
}

const SUMMARY_TYPE_LABELS: Record<SummaryItem['metricType'], string> = {
  alert: 'anomaly',
  change: 'change',
  tholdalert: 'threshold',
};

function count(n: number, singular: string, plural: string): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** The daily summary: counts in the subject, one table of rows per batch, newest first. */
export function formatSummary(items: SummaryItem[], since: Date): FormattedSummary {
  const counts = { alert: 0, change: 0, tholdalert: 0 };
  for (const item of items) {
    counts[item.metricType] += 1;
  }
  const subject =
    `Anomstack summary: ${count(counts.alert, 'anomaly', 'anomalies')}, ${count(counts.change, 'change', 'changes')}, ` +
    `${count(counts.tholdalert, 'threshold breach', 'threshold breaches')} ` +
    `since ${formatTimestamp(since)}`;

  const batches = new Map<string, SummaryItem[]>();
  for (const item of [...items].sort(
    (a, b) => a.batch.localeCompare(b.batch) || b.timestamp.getTime() - a.timestamp.getTime() || a.metric.localeCompare(b.metric),
  )) {
    const rows = batches.get(item.batch) ?? [];
    rows.push(item);
    batches.set(item.batch, rows);
  }

  const textLines = [subject, ''];
  if (items.length === 0) {
    textLines.push('No anomalies, changes or threshold breaches.');
  }
  for (const [batch, rows] of batches) {
    textLines.push(`${batch} (${rows.length})`);
    for (const row of rows) {
      textLines.push(
        `  ${formatTimestamp(row.timestamp)}  ${SUMMARY_TYPE_LABELS[row.metricType].padEnd(9)}  ${row.metric} = ${formatNumber(row.value)}`,
      );
    }
    textLines.push('');
  }
  textLines.push('-- anomstack');

  const cell = 'style="padding:3px 12px 3px 0;border-bottom:1px solid #e5e7eb"';
  const sections = [...batches].map(([batch, rows]) => {
    const body = rows
      .map(
        (row) =>
          `<tr><td ${cell}>${escapeHtml(formatTimestamp(row.timestamp))}</td><td ${cell}>${escapeHtml(SUMMARY_TYPE_LABELS[row.metricType])}</td>` +
          `<td ${cell}>${escapeHtml(row.metric)}</td><td ${cell} align="right">${escapeHtml(formatNumber(row.value))}</td></tr>`,
      )
      .join('\n');
    return (
      `<h3 style="margin:18px 0 6px 0">${escapeHtml(batch)} (${rows.length})</h3>\n` +
      `<table style="border-collapse:collapse"><thead><tr><th align="left" ${cell}>time</th><th align="left" ${cell}>type</th>` +
      `<th align="left" ${cell}>metric</th><th align="right" ${cell}>value</th></tr></thead>\n<tbody>\n${body}\n</tbody></table>`
    );
  });
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827">',
    `<h2 style="margin:0 0 8px 0">${escapeHtml(subject)}</h2>`,
    items.length === 0 ? '<p>No anomalies, changes or threshold breaches.</p>' : sections.join('\n'),
    '<p style="color:#6b7280;font-size:12px">anomstack</p>',
    '</body></html>',
    '',
  ].join('\n');

  return { subject, text: `${textLines.join('\n')}\n`, html };
}

// ---------------------------------------------------------------------------------------------
// Notices: messages that are not about one metric point (a failed job, the daily summary).

/** A message without a chart, rendered for every channel. */
export interface Notice {
  /** `failure` or `summary`: the webhook payload's `type`. */
  type: 'failure' | 'summary';
  subject: string;
  text: string;
  html: string;
  slackBlocks: SlackBlock[];
  /** The webhook's JSON body (besides `type` and `delivery`). */
  payload: Record<string, unknown>;
}

/** A job that failed for the last time (no retries left, or an input error). */
export interface JobFailure {
  batch: string;
  job: string;
  jobId: string;
  /** The run's slot (ISO). */
  slot: string;
  /** The attempt that failed, and how many there may be. */
  attempt: number;
  attempts: number;
  /** Retrying cannot help (bad config, template, user code or rows). */
  inputError: boolean;
  reason: string;
  /** The run in Bull Board. */
  runUrl: string;
  failedAt: Date;
}

const MAX_REASON = 2000;

/** `[batch] job failed`, the reason and a link to the run, for every channel. */
export function failureNotice(failure: JobFailure): Notice {
  const reason = cap(failure.reason, MAX_REASON);
  const subject = `[${failure.batch}] ${failure.job} failed`;
  const why = failure.inputError
    ? 'It was not retried: the input is at fault (config, template, user code or rows).'
    : `It failed on attempt ${failure.attempt} of ${failure.attempts}; no retries are left.`;
  const facts: AlertFact[] = [
    { label: 'Batch', value: failure.batch },
    { label: 'Job', value: failure.job },
    { label: 'Slot', value: formatTimestamp(new Date(failure.slot)) },
    { label: 'Failed at', value: formatTimestamp(failure.failedAt) },
    { label: 'Run', value: failure.runUrl },
  ];
  const width = Math.max(...facts.map((fact) => fact.label.length)) + 2;
  const text = [
    `${failure.job} of ${failure.batch} failed.`,
    why,
    '',
    ...facts.map((fact) => `${`${fact.label}:`.padEnd(width)}${fact.value}`),
    '',
    'Reason:',
    reason,
    '',
    'Later failures of this job and batch today send no further message.',
    '',
    '-- anomstack',
  ].join('\n');
  const rows = facts
    .map((fact) => {
      const value = fact.label === 'Run' ? `<a href="${escapeHtml(fact.value)}">${escapeHtml(fact.value)}</a>` : escapeHtml(fact.value);
      return `<tr><th align="left" style="padding:4px 16px 4px 0;color:#4b5563">${escapeHtml(fact.label)}</th><td style="padding:4px 0">${value}</td></tr>`;
    })
    .join('\n');
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827">',
    `<h2 style="margin:0 0 12px 0">${escapeHtml(subject)}</h2>`,
    `<p>${escapeHtml(why)}</p>`,
    `<table style="border-collapse:collapse">\n${rows}\n</table>`,
    `<pre style="white-space:pre-wrap;background:#f3f4f6;padding:8px">${escapeHtml(reason)}</pre>`,
    '<p style="color:#6b7280;font-size:12px">Later failures of this job and batch today send no further message. anomstack</p>',
    '</body></html>',
    '',
  ].join('\n');
  const slackBlocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: cap(subject, 150), emoji: false } },
    {
      type: 'section',
      fields: facts.map((fact) => ({
        type: 'mrkdwn' as const,
        text: cap(`*${fact.label}*\n${fact.label === 'Run' ? `<${fact.value}|open in Bull Board>` : escapeSlack(fact.value)}`, 2000),
      })),
    },
    { type: 'section', text: { type: 'mrkdwn', text: cap(`*Reason*\n${escapeSlack(reason)}`, 3000) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `:x: ${escapeSlack(why)}` }] },
  ];
  return {
    type: 'failure',
    subject,
    text: `${text}\n`,
    html,
    slackBlocks,
    payload: {
      batch: failure.batch,
      job: failure.job,
      job_id: failure.jobId,
      slot: failure.slot,
      attempt: failure.attempt,
      attempts: failure.attempts,
      input_error: failure.inputError,
      reason,
      run_url: failure.runUrl,
      failed_at: failure.failedAt.toISOString(),
    },
  };
}

/** Slack's limit of blocks in one message. */
const MAX_SLACK_BLOCKS = 50;

/** The daily summary as a notice: the email's subject, text and HTML, Slack blocks per batch. */
export function summaryNotice(items: SummaryItem[], since: Date): Notice {
  const { subject, text, html } = formatSummary(items, since);
  const batches = new Map<string, SummaryItem[]>();
  for (const item of [...items].sort(
    (a, b) => a.batch.localeCompare(b.batch) || b.timestamp.getTime() - a.timestamp.getTime() || a.metric.localeCompare(b.metric),
  )) {
    batches.set(item.batch, [...(batches.get(item.batch) ?? []), item]);
  }
  const sections: SlackBlock[] = [...batches].map(([batch, rows]) => ({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: cap(
        `*${escapeSlack(batch)}* (${rows.length})\n` +
          rows.map((row) => `• ${formatTimestamp(row.timestamp)} ${SUMMARY_TYPE_LABELS[row.metricType]} \`${escapeSlack(row.metric)}\` = ${formatNumber(row.value)}`).join('\n'),
        3000,
      ),
    },
  }));
  const room = MAX_SLACK_BLOCKS - 2;
  const shown = sections.length > room ? [...sections.slice(0, room - 1), { type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: `and ${sections.length - room + 1} more batches (see the email)` }] }] : sections;
  const slackBlocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: cap(subject, 150), emoji: false } },
    ...(items.length === 0 ? [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'No anomalies, changes or threshold breaches.' } }] : shown),
  ];
  return {
    type: 'summary',
    subject,
    text,
    html,
    slackBlocks,
    payload: {
      since: since.toISOString(),
      items: items.map((item) => ({
        batch: item.batch,
        metric: item.metric,
        metric_type: item.metricType,
        timestamp: item.timestamp.toISOString(),
        value: Number.isFinite(item.value) ? item.value : null,
      })),
    },
  };
}
