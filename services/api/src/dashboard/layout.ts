import { html, trusted, type Html } from './html.js';

export type Section = 'home' | 'anomalies' | 'runs' | 'schedules' | 'preview' | 'login';

export interface PageOptions {
  title: string;
  section: Section;
  body: Html;
  /** The request's CSRF token, for the logout form; absent on the login page. */
  csrf?: string;
  /** Load uPlot and the chart script. */
  charts?: boolean;
}

const NAV: ReadonlyArray<[Section, string, string]> = [
  ['home', '/', 'Batches'],
  ['anomalies', '/anomalies', 'Anomalies'],
  ['runs', '/runs', 'Runs'],
  ['schedules', '/schedules', 'Schedules'],
  ['preview', '/preview', 'Preview'],
];

/** The page shell: head, navigation and the body; scripts only from /assets (CSP: script-src 'self'). */
export function page(options: PageOptions): string {
  const nav =
    options.section === 'login'
      ? html``
      : html`<nav class="nav">
          ${NAV.map(([section, path, label]) => html`<a href="${path}"${trusted(section === options.section ? ' aria-current="page"' : '')}>${label}</a>`)}
          <span class="spacer"></span>
          <a href="/admin/queues" class="muted">Queues</a>
          ${options.csrf === undefined
            ? ''
            : html`<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${options.csrf}"><button class="link">Log out</button></form>`}
        </nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · anomstack</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
${options.charts ? html`<link rel="stylesheet" href="/assets/uPlot.min.css">` : ''}
<link rel="stylesheet" href="/assets/dashboard.css">
${options.charts ? html`<script src="/assets/uPlot.iife.min.js" defer></script><script src="/assets/charts.js" defer></script>` : ''}
</head>
<body>
<header class="top"><a class="brand" href="/"><span class="logo" aria-hidden="true"></span>anomstack</a>${nav}</header>
<main>${options.body}</main>
</body>
</html>`.text;
}

/** "3m ago", "2h ago", "5d ago" from a time; "never" for none. */
export function age(time: Date | null, now: Date): string {
  if (time === null) {
    return 'never';
  }
  const seconds = Math.max(0, Math.round((now.getTime() - time.getTime()) / 1000));
  if (seconds < 60) {
    return `${seconds}s ago`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ago`;
  }
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours}h ago` : `${Math.round(hours / 24)}d ago`;
}

/** UTC, to the minute: `2026-02-03 04:05`. */
export const utc = (time: Date): string => time.toISOString().slice(0, 16).replace('T', ' ');

/** A number for people: up to 4 significant digits, `–` for none. */
export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  return Math.abs(value) >= 10 ** digits ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(digits)));
}

export const pct = (value: number): string => `${(value * 100).toFixed(value > 0 && value < 0.01 ? 2 : 1)}%`;

/** A short notice box. */
export const notice = (kind: 'info' | 'error' | 'ok', text: Html | string): Html => html`<div class="notice ${kind}">${text}</div>`;
