import { createRequire } from 'node:module';
import Mustache from 'mustache';
import type nunjucksModule from 'nunjucks';
import { type MetricBatch } from './config/metric-batch.js';
import { InputError } from './errors.js';

/** A rendered statement: text with `$n` placeholders and the values bound to them. */
export interface SqlStatement {
  text: string;
  values: unknown[];
}

const LIST_KEYS = new Set([
  'train_exclude_metrics',
  'score_exclude_metrics',
  'alert_exclude_metrics',
  'change_include_metrics',
  'change_exclude_metrics',
]);

/** A template that cannot render is the batch's fault: not retried. */
export class TemplateError extends InputError {
  override name = 'TemplateError';
}

export type TemplateSyntax = 'jinja' | 'mustache';

// Jinja's block tags and comments, and `{{ }}` holding more than a name (a call, filter, quote,
// index or operator): mustache has none of these. `{{ name }}` alone is the same in both.
const JINJA_BLOCK = /\{%|(?<!\{)\{#/;
const JINJA_EXPRESSION = /\{\{(?![{#^/!>&])[^}]*[()|'"[\]+\-*<>=~][^}]*\}\}/;
// Property chains that reach JavaScript's Function constructor from a nunjucks template.
const UNSAFE_NAME = /\b(constructor|__proto__|prototype)\b/;

/**
 * Which engine renders a template, by its syntax: Jinja (nunjucks) when it has a `{% %}` tag, a
 * `{# #}` comment or a `{{ }}` expression beyond a plain name; otherwise mustache, so every
 * mustache template (sections, `{{{raw}}}`) renders as before.
 */
export function templateSyntax(template: string): TemplateSyntax {
  return JINJA_BLOCK.test(template) || JINJA_EXPRESSION.test(template) ? 'jinja' : 'mustache';
}

// nunjucks (about 30 files) is loaded on the first Jinja template: the default SQL is mustache,
// so most processes never need it. It is CommonJS, so it loads synchronously.
let engine: { nunjucks: typeof nunjucksModule; env: nunjucksModule.Environment } | null = null;
function jinja(): { nunjucks: typeof nunjucksModule; env: nunjucksModule.Environment } {
  if (engine === null) {
    const nunjucks = createRequire(import.meta.url)('nunjucks') as typeof nunjucksModule;
    engine = { nunjucks, env: new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false }) };
  }
  return engine;
}

/** Why a Jinja template may not run (it names a property that reaches Function), or null; checked at load and at render. */
function unsafeJinja(template: string): string | null {
  const unsafe = UNSAFE_NAME.exec(template);
  return unsafe ? `"${unsafe[1]}" is not allowed in a template` : null;
}

/** Checked templates: every batch shares the default SQL, so each text is compiled once. */
const problems = new Map<string, string | null>();
/** Bounded: the dashboard's preview checks whatever text it is sent. */
const MAX_CHECKED = 1000;
const MAX_CACHED_LENGTH = 64 * 1024;

/** What stops a template from compiling, or null: the loader reports it against the key. */
export function templateProblem(template: string): string | null {
  let problem = problems.get(template);
  if (problem === undefined) {
    problem = compileProblem(template);
    if (problems.size >= MAX_CHECKED) {
      problems.clear();
    }
    // Big texts (a few MB of included SQL) are not kept as keys: 1000 of them would be gigabytes.
    if (template.length <= MAX_CACHED_LENGTH) {
      problems.set(template, problem);
    }
  }
  return problem;
}

function compileProblem(template: string): string | null {
  if (templateSyntax(template) === 'mustache') {
    if (!template.includes('{{')) {
      return null;
    }
    try {
      Mustache.parse(template);
      return null;
    } catch (error) {
      return `mustache: ${(error as Error).message}`;
    }
  }
  const unsafe = unsafeJinja(template);
  if (unsafe !== null) {
    return `Jinja: ${unsafe}`;
  }
  try {
    // eagerCompile: nunjucks.compile() alone defers parsing to the first render.
    const { nunjucks, env } = jinja();
    new nunjucks.Template(template, env, undefined, true);
    return null;
  } catch (error) {
    return `Jinja: ${(error as Error).message.replace(/\s+/g, ' ').trim()}`;
  }
}

/** Renders a template string with the engine its syntax picks (templateSyntax), escaping off. */
export function renderTemplate(template: string, view: Record<string, unknown>): string {
  if (templateSyntax(template) === 'mustache') {
    // Text without a tag is its own rendering: mustache's parser makes a token per character,
    // which made a few MB of included SQL cost seconds to check and again to render.
    if (!template.includes('{{')) {
      return template;
    }
    return Mustache.render(template, view, {}, { escape: (value: unknown) => String(value) });
  }
  const unsafe = unsafeJinja(template);
  if (unsafe !== null) {
    throw new Error(unsafe);
  }
  return jinja().env.renderString(template, view);
}

/**
 * Renders one of a batch's SQL templates with mustache or Jinja (templateSyntax), escaping off. The view is the
 * batch's template vars plus `extra`; `{{param.x}}` binds `x` (from `params`) as a `$n` placeholder, and
 * the exclusion lists render as placeholders too, so names never become SQL text.
 */
export function renderSql(
  batch: MetricBatch,
  key: string,
  params: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): SqlStatement {
  const template = batch.vars[key];
  if (typeof template !== 'string') {
    throw new TemplateError(`batch "${batch.name}": ${key} is not set`);
  }
  // Each bound value renders as a marker, numbered `$n` afterwards in the order the text uses
  // them: nunjucks copies the view (reading every property), so binding on access would number
  // values the SQL never uses.
  const bound = new Map<string, unknown>();
  const marker = (name: string, value: unknown): string => {
    bound.set(name, value);
    return `\u0000${name}\u0000`;
  };
  const param: Record<string, string> = {};
  for (const [name, value] of Object.entries({ metric_batch: batch.name, ...params })) {
    Object.defineProperty(param, name, { enumerable: true, get: () => marker(`param.${name}`, value) });
  }
  const view: Record<string, unknown> = { ...batch.vars, ...extra, param };
  for (const listKey of LIST_KEYS) {
    const list = batch.vars[listKey];
    delete view[listKey];
    if (Array.isArray(list) && list.length > 0) {
      Object.defineProperty(view, listKey, { enumerable: true, get: () => marker(listKey, list) });
    }
  }
  try {
    const rendered = renderTemplate(template, view);
    const values: unknown[] = [];
    const placeholders = new Map<string, string>();
    // eslint-disable-next-line no-control-regex -- NUL delimits the markers; only names bound above count
    const text = rendered.replace(/\u0000([^\u0000]+)\u0000/g, (match, name: string) => {
      if (!bound.has(name)) {
        return match;
      }
      let placeholder = placeholders.get(name);
      if (placeholder === undefined) {
        values.push(bound.get(name));
        placeholder = `$${values.length}`;
        placeholders.set(name, placeholder);
      }
      return placeholder;
    });
    return { text, values };
  } catch (error) {
    throw new TemplateError(`batch "${batch.name}": ${key}: ${(error as Error).message}`);
  }
}
