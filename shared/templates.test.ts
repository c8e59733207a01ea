import { describe, expect, it } from 'vitest';
import type { MetricBatch } from './config/metric-batch.js';
import { renderSql, templateProblem, templateSyntax } from './templates.js';

/** renderSql reads only the name and the template view. */
const batchWith = (vars: Record<string, unknown>): MetricBatch => ({ name: 'b', vars }) as unknown as MetricBatch;

describe('template syntax', () => {
  it('picks Jinja for tags, comments and expressions, mustache otherwise', () => {
    expect(templateSyntax('{% set x = 1 %}{{ x }}')).toBe('jinja');
    expect(templateSyntax('{# note #} select 1')).toBe('jinja');
    expect(templateSyntax("{{ ','.join(xs) }}")).toBe('jinja');
    expect(templateSyntax('{{ x | upper }}')).toBe('jinja');
    expect(templateSyntax('select {{ table_key }} {{{raw}}} {{#list}}{{.}}{{/list}} {{^x}}none{{/x}}')).toBe('mustache');
  });

  it('reports a Jinja syntax error and refuses names that reach JavaScript constructors', () => {
    expect(templateProblem('{% for x in %}')).toMatch(/^Jinja: .*unexpected token/);
    expect(templateProblem('{% if x %}open')).toMatch(/^Jinja: /);
    expect(templateProblem('{{ range.constructor("return process")() }}')).toBe('Jinja: "constructor" is not allowed in a template');
    expect(templateProblem('{{#open}}')).toMatch(/^mustache: /);
    expect(templateProblem('{% if x is defined %}{{ x }}{% endif %}')).toBeNull();
  });
});

describe('renderSql', () => {
  it('renders the Jinja loop, set and loop.last as the original does', () => {
    const batch = batchWith({ ingest_sql: "{% set ms = ['a', 'b'] %}{% for m in ms %}select '{{ m }}'{% if not loop.last %} union all {% endif %}{% endfor %}" });
    expect(renderSql(batch, 'ingest_sql', {}).text).toBe("select 'a' union all select 'b'");
  });

  it('binds parameters in Jinja templates as in mustache ones, numbering only those the text uses', () => {
    const jinja = batchWith({ ingest_sql: "{% if table_key is defined %}select {{ param.now }}, {{ param.now }} from {{ table_key }}{% endif %}", table_key: 'm' });
    expect(renderSql(jinja, 'ingest_sql', { now: 'NOW', unused: 1 })).toEqual({ text: 'select $1, $1 from m', values: ['NOW'] });
    const mustache = batchWith({ ingest_sql: 'select {{param.metric_batch}}, {{param.now}} from {{table_key}}', table_key: 'm' });
    expect(renderSql(mustache, 'ingest_sql', { now: 'NOW' })).toEqual({ text: 'select $1, $2 from m', values: ['b', 'NOW'] });
  });

  it('renders an exclusion list as a bound parameter in Jinja too, never as SQL text', () => {
    const batch = batchWith({ train_sql: "select 1 where name <> all({{ train_exclude_metrics }}) {% if x is not defined %}and true{% endif %}", train_exclude_metrics: ["a'); drop table t; --"] });
    expect(renderSql(batch, 'train_sql', {})).toEqual({ text: 'select 1 where name <> all($1) and true', values: [["a'); drop table t; --"]] });
  });

  it('leaves undefined Jinja names empty, as Jinja does, and does not HTML-escape', () => {
    expect(renderSql(batchWith({ s: "{% if 1 %}select '<&>'{{ missing }}{% endif %}" }), 's', {}).text).toBe("select '<&>'");
  });
});
