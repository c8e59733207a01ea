import type { RequestHandler } from 'express';
import type { MetricBatch } from '../../../../../shared/config/metric-batch.js';
import { render, shownBatches, type Ctx } from '../context.js';
import { html, type Html } from '../html.js';
import { notice } from '../layout.js';

/**
 * The extension point of the Preview page (issue 11: run `backtest` on a batch's stored history
 * with its config or edited settings and chart the alerts it would have sent). The backtest core
 * is built elsewhere; when it lands, pass a provider in DashboardDeps.preview: the page lists the
 * batches and hands the chosen one and the form's settings to `render`.
 */
export interface PreviewProvider {
  render(batch: MetricBatch, settings: Record<string, string>): Promise<Html>;
}

export function previewPage(ctx: Ctx): RequestHandler {
  return async (req, res) => {
    const provider = ctx.deps.preview;
    const name = typeof req.query.batch === 'string' ? req.query.batch : null;
    const batch = name ? shownBatches(ctx).find((b) => b.name === name) : undefined;
    const settings = Object.fromEntries(Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'batch'));
    const result = provider && batch ? await provider.render(batch, settings) : null;
    render(ctx, res, {
      title: 'Preview',
      section: 'preview',
      body: html`<div class="head"><div><h1>Preview</h1><p>Replay detection on a batch's stored history and see the alerts it would have sent.</p></div></div>
        ${provider
          ? html`<form method="get" class="toolbar"><select name="batch">${shownBatches(ctx).map((b) => html`<option${b.name === name ? html` selected` : ''}>${b.name}</option>`)}</select><button class="primary">Run backtest</button></form>${result ?? ''}`
          : notice('info', 'The backtest preview is not available in this build yet.')}`,
    });
  };
}
