import Mustache from 'mustache';
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

/**
 * Renders one of a batch's SQL templates with mustache, HTML escaping off. The view is the
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
  const values: unknown[] = [];
  const placeholders = new Map<string, string>();
  const bind = (name: string, value: unknown): string => {
    let placeholder = placeholders.get(name);
    if (!placeholder) {
      values.push(value);
      placeholder = `$${values.length}`;
      placeholders.set(name, placeholder);
    }
    return placeholder;
  };
  const param: Record<string, string> = {};
  for (const [name, value] of Object.entries({ metric_batch: batch.name, ...params })) {
    Object.defineProperty(param, name, { enumerable: true, get: () => bind(`param.${name}`, value) });
  }
  const view: Record<string, unknown> = { ...batch.vars, ...extra, param };
  for (const listKey of LIST_KEYS) {
    const list = batch.vars[listKey];
    delete view[listKey];
    if (Array.isArray(list) && list.length > 0) {
      Object.defineProperty(view, listKey, { enumerable: true, get: () => bind(listKey, list) });
    }
  }
  try {
    const text = Mustache.render(template, view, {}, { escape: (value: unknown) => String(value) });
    return { text, values };
  } catch (error) {
    throw new TemplateError(`batch "${batch.name}": ${key}: ${(error as Error).message}`);
  }
}
