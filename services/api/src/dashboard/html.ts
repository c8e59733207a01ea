/**
 * HTML output with escaping by default: every value put into an `html` template is escaped
 * unless it is itself `Html` (metric and batch names, errors and config are user data).
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function renderPart(part: Part): string {
  if (part === null || part === undefined || part === false) {
    return '';
  }
  if (part instanceof Html) {
    return part.text;
  }
  if (Array.isArray(part)) {
    return part.map((p: Part) => renderPart(p)).join('');
  }
  return escapeHtml(part);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += renderPart(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Text we built ourselves and know to be safe (numbers formatted by us, fixed markup). */
export const trusted = (text: string): Html => new Html(text);

/** A URL with query parameters, each encoded. */
export function href(path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') {
      params.set(key, String(value));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
