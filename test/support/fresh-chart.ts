/**
 * The alert chart's SVG as drawn before the compile cache: vega-lite compiled afresh from the
 * chart's own spec. The reference the cached drawing must match (tests) and be faster than (the
 * chart bench).
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { alertChartSpec, type ChartInput } from '../../shared/alerts/chart.js';

export async function freshAlertChartSvg(input: ChartInput): Promise<string> {
  const { spec } = compile(alertChartSpec(input), { logger: vega.logger(vega.None) });
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
