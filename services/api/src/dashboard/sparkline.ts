import { html, trusted, type Html } from './html.js';

/** A small inline SVG of values, the last point (the alert) marked; attributes only, no inline style (CSP). */
export function sparkline(values: readonly number[], label: string): Html {
  const width = 160;
  const height = 36;
  const pad = 3;
  if (values.length < 2) {
    return html`<span class="muted small">–</span>`;
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const x = (i: number): number => pad + (i * (width - 2 * pad)) / (values.length - 1);
  const y = (v: number): number => height - pad - ((v - min) * (height - 2 * pad)) / span;
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const last = values.length - 1;
  return html`<svg class="spark" viewBox="0 0 ${String(width)} ${String(height)}" role="img" aria-label="${label}"><polyline class="line" points="${trusted(points)}"/><circle class="dot" cx="${trusted(x(last).toFixed(1))}" cy="${trusted(y(values[last] ?? 0).toFixed(1))}" r="3"/></svg>`;
}
