import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import { FONT_FAMILY, renderAlertChart, renderAlertChartSvg, type ChartInput } from '../shared/alerts/chart.js';
import { freshAlertChartSvg } from '../test/support/fresh-chart.js';
import { median } from './support.js';

const fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((file) => new URL(`../shared/alerts/fonts/${file}`, import.meta.url).pathname);

// The chart as drawn before the compile cache, kept callable for the bench and the tests only.
const oldSvg = freshAlertChartSvg;

function oldPng(svg: string, scale: number): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: false, fontFiles, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  });
  return resvg.render().asPng();
}

/** An alert's chart as the alert job draws it: `n` 5-minute points, banded, the last one alerted and in focus. */
function alertInput(n: number, seed: number): ChartInput {
  const start = Date.UTC(2026, 5, 1, 12) + seed * 300_000;
  const points = Array.from({ length: n }, (_, k) => {
    const base = 100 + 10 * Math.sin((k + seed) / 9);
    const last = k === n - 1;
    return {
      t: new Date(start + k * 300_000),
      value: last ? 180 : base + ((k * 7919) % 17) / 4,
      score: k < 10 ? null : last ? 0.9999 : 0.2 + 0.1 * Math.sin(k / 5),
      scoreSmooth: k < 10 ? null : last ? 0.9995 : 0.2,
      alert: last,
      change: false,
      band: k < 30 ? null : { lo: base - 6, hi: base + 7 },
    };
  });
  return { title: `[bench_latency] m${String(seed).padStart(3, '0')} anomaly`, threshold: 0.999, points, focus: points[n - 1]!.t };
}

const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * `npm run bench -- chart [--runs 9] [--points 300]`: the alert chart's cost per alert, the
 * old drawing (vega-lite compiled for every chart, kept here only) against the current one
 * (compiled once per shape), interleaved in one process on the same inputs; wall and CPU
 * medians and their ratios, split into SVG (vega) and PNG (resvg, at 2x as sent and 1x for
 * reference). Checks first that both draw the same SVG.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '9' }, points: { type: 'string', default: '300' } } });
  const runs = Number(values.runs);
  const n = Number(values.points);
  // Warm both paths (vega's first use, the text metrics, the JIT) outside the timing.
  await renderAlertChart(alertInput(n, 0));
  await oldSvg(alertInput(n, 0));
  for (let seed = 1; seed <= 3; seed++) {
    const input = alertInput(n, seed);
    if ((await oldSvg(input)) !== (await renderAlertChartSvg(input))) {
      throw new Error(`chart bench: the old and new SVG differ for seed ${seed}`);
    }
  }
  console.log(`chart bench: ${n}-point alert charts, ${runs} runs each, interleaved; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; old and new SVG identical`);

  const timings: Record<string, { wall: number[]; cpu: number[] }> = {};
  const time = async (label: string, work: () => Promise<unknown>): Promise<void> => {
    const wall0 = performance.now();
    const cpu0 = cpuMs();
    await work();
    const entry = (timings[label] ??= { wall: [], cpu: [] });
    entry.wall.push(performance.now() - wall0);
    entry.cpu.push(cpuMs() - cpu0);
  };
  for (let i = 0; i < runs; i++) {
    // A new title and time range each time, as each alert has.
    const input = alertInput(n, 10 + i);
    await time('old svg (compile per chart)', () => oldSvg(input));
    await time('new svg (compiled per shape)', () => renderAlertChartSvg(input));
    await time('old chart, png 2x', async () => oldPng(await oldSvg(input), 2));
    await time('new chart, png 2x (as sent)', () => renderAlertChart(input));
    await time('new chart, png 1x (reference)', () => renderAlertChart(input, { scale: 1 }));
  }
  const fmt = (ms: number): string => `${ms.toFixed(0).padStart(5)} ms`;
  const base = (label: string) => timings[label]!;
  const pairs: Record<string, string> = {
    'new svg (compiled per shape)': 'old svg (compile per chart)',
    'new chart, png 2x (as sent)': 'old chart, png 2x',
    'new chart, png 1x (reference)': 'old chart, png 2x',
  };
  for (const [label, { wall, cpu }] of Object.entries(timings)) {
    const against = pairs[label];
    const ratio = against === undefined ? '' : `  ${(median(wall) / median(base(against).wall)).toFixed(2)}x wall, ${(median(cpu) / median(base(against).cpu)).toFixed(2)}x cpu of ${against}`;
    console.log(`${label.padEnd(32)} median wall ${fmt(median(wall))}  cpu ${fmt(median(cpu))}${ratio}`);
  }
  console.log(`load average after ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}
