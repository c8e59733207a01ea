import { html, href, trusted, type Html } from '../html.js';
import { WINDOW_CHOICES, type Window } from '../window.js';

/** The window switch: links that keep the page's other query parameters. */
export function windowSwitch(path: string, current: Window, query: Record<string, string | null> = {}, choices: readonly string[] = WINDOW_CHOICES): Html {
  return html`<nav class="segmented" aria-label="window">${choices.map(
    (choice) => html`<a href="${href(path, { ...query, window: choice })}"${trusted(choice === current.label ? ' aria-current="true"' : '')}>${choice}</a>`,
  )}</nav>`;
}

/** Previous/next links for an offset-paginated list. */
export function pager(path: string, query: Record<string, string | null>, pageNo: number, hasNext: boolean): Html {
  if (pageNo === 0 && !hasNext) {
    return html``;
  }
  return html`<div class="pager">
    ${pageNo > 0 ? html`<a class="button" href="${href(path, { ...query, page: pageNo === 1 ? null : String(pageNo - 1) })}">← Newer</a>` : ''}
    <span class="muted small">page ${pageNo + 1}</span>
    ${hasNext ? html`<a class="button" href="${href(path, { ...query, page: String(pageNo + 1) })}">Older →</a>` : ''}
  </div>`;
}

/** `?page=` as a whole number from 0. */
export function pageNumber(raw: unknown): number {
  const value = typeof raw === 'string' ? Number(raw) : 0;
  return Number.isInteger(value) && value >= 0 && value < 100_000 ? value : 0;
}
