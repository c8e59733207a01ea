import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderAlertChart, renderAlertChartSvg } from '../shared/alerts/chart.js';
import type { ChartInput, ChartPoint } from '../shared/alerts/chart.js';
import { freshAlertChartSvg } from './support/fresh-chart.js';
import { countPixels, decodePng, isBandBlue } from './support/png.js';

// The alert marker red (#dc2626) and nothing else in the chart is this red and this saturated.
// At scale 2 the title and legend take the top ~150 px; the value panel starts below 200.
const PLOT_TOP = 200;
const isAlertRed = (r: number, g: number, b: number): boolean => r > 200 && g < 70 && b < 70;
const isDarkText = (r: number, g: number, b: number): boolean => r < 60 && g < 60 && b < 60;

function series(n: number, alertAt: number[] = []): ChartPoint[] {
  const start = Date.UTC(2026, 10, 20, 0, 0);
  return Array.from({ length: n }, (_, i) => ({
    t: new Date(start + i * 3_600_000),
    value: 100 + 10 * Math.sin(i / 10) + (alertAt.includes(i) ? 60 : 0),
    score: i < 10 ? null : alertAt.includes(i) ? 0.95 : 0.2 + 0.1 * Math.sin(i / 5),
    scoreSmooth: i < 10 ? null : alertAt.includes(i) ? 0.9 : 0.2,
    alert: alertAt.includes(i),
    change: i === 120,
  }));
}

describe('renderAlertChart', () => {
  it('renders 250 points as a PNG with alert markers in red and the title in text', async () => {
    // Given
    const input: ChartInput = { title: '[batch_one] cpu_usage anomaly', threshold: 0.8, points: series(250, [200, 230]) };

    // When
    const png = await renderAlertChart(input);

    // Then
    const decoded = decodePng(png);
    expect(decoded.width).toBeGreaterThan(1500);
    expect(decoded.height).toBeGreaterThan(800);
    // Below the legend (whose 'anomaly' key is red too): the markers and rules.
    expect(countPixels(decoded, isAlertRed, [PLOT_TOP, decoded.height])).toBeGreaterThan(500);
    // The title is drawn in the top band: black glyph pixels exist, so the font loaded.
    expect(countPixels(decoded, isDarkText, [0, 90])).toBeGreaterThan(500);
  });

  it('draws no alert red without alerts', async () => {
    // Given: the same series without alert flags (and the threshold line is a darker red)
    const points = series(250, [200, 230]).map((point) => ({ ...point, alert: false }));

    // When
    const decoded = decodePng(await renderAlertChart({ title: 'no alerts', threshold: 0.8, points }));

    // Then
    expect(countPixels(decoded, isAlertRed, [PLOT_TOP, decoded.height])).toBe(0);
  });

  it.each<[string, ChartPoint[]]>([
    ['no points', []],
    ['a single point', series(1, [0])],
    ['no scores', series(30).map((point) => ({ ...point, score: null, scoreSmooth: null }))],
    [
      'NaN, infinite and null values',
      series(40, [20]).map((point, i) => ({
        ...point,
        value: i % 5 === 0 ? Number.NaN : i % 7 === 0 ? Number.POSITIVE_INFINITY : point.value,
        score: i % 3 === 0 ? Number.NaN : point.score,
      })),
    ],
    ['unsorted timestamps', series(50, [10]).reverse()],
  ])('renders %s', async (_name, points) => {
    const decoded = decodePng(await renderAlertChart({ title: 'edge case', threshold: null, points }));
    expect(decoded.width).toBeGreaterThan(1000);
    expect(countPixels(decoded, isDarkText, [0, 90])).toBeGreaterThan(100);
  });

  it('escapes the title in the SVG and names the vendored font', async () => {
    const svg = await renderAlertChartSvg({ title: '[b] <script>alert(1)</script> & "x"', threshold: 0.5, points: series(5) });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('DejaVu Sans');
  });

  it('scales the image with the scale option', async () => {
    const input = { title: 'scale', threshold: 0.5, points: series(20) };
    const one = decodePng(await renderAlertChart(input, { scale: 1 }));
    const two = decodePng(await renderAlertChart(input, { scale: 2 }));
    expect(Math.abs(two.width - 2 * one.width)).toBeLessThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------------------------
// The expected band, read back from the SVG before it is rasterised.

/** The `d` of each path in the SVG group whose class names the mark type and which holds `label` in an aria-label. */
function markPaths(svg: string, markClass: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="${markClass} role-mark [^"]*"[^>]*>(.*?)</g>`, 'gs'))].map((m) => m[1] ?? '');
  return groups.flatMap((group) => [...group.matchAll(/ d="([^"]+)"/g)].map((m) => m[1] ?? ''));
}

/** `M x,y L x,y ... Z` as subpaths of [x, y] vertices. */
function subpaths(d: string): [number, number][][] {
  return d
    .split('M')
    .filter((part) => part.trim() !== '')
    .map((part) => part.replace(/Z\s*$/, '').split('L').map((pair) => pair.split(',').map(Number) as [number, number]));
}

const BAND_WIDTH = 820;

/** 100 hourly points, a sine wave; banded from point 40 on except 70-73 (a gap), the last one a spike that alerted. */
function bandedSeries(): ChartPoint[] {
  const start = Date.UTC(2026, 10, 20, 0, 0);
  return Array.from({ length: 100 }, (_, i) => {
    const base = 100 + 10 * Math.sin(i / 8);
    return {
      t: new Date(start + i * 3_600_000),
      value: i === 99 ? 150 : base,
      score: i === 99 ? 0.99995 : 0.3,
      scoreSmooth: i === 99 ? 0.99995 : 0.3,
      alert: i === 99,
      change: false,
      band: i === 99 ? { lo: 95, hi: 104 } : i < 40 || (i >= 70 && i < 74) ? null : { lo: base - 5, hi: base + 4 },
    };
  });
}

describe('the alert chart time axis', () => {
  // Days-only labels with ticks twice a day read "Nov 20 | Nov 20 | Nov 21 | Nov 21 ...".
  it.each([80, 100, 150, 250, 1000])('labels each tick with a different date over %i hourly points', async (hours) => {
    const points = series(hours).map((point) => ({ ...point, change: false }));
    const svg = await renderAlertChartSvg({ title: 'axis', threshold: 0.8, points });
    const dates = [...svg.matchAll(/<text[^>]*>([A-Z][a-z]{2} \d\d)<\/text>/g)].map((m) => m[1]);
    expect(dates.length).toBeGreaterThanOrEqual(3);
    expect(new Set(dates).size).toBe(dates.length);
  });
});

describe('the expected band on the alert chart', () => {
  it('shades the band where points have one, with a gap where they do not, at the points\' x and the values\' y', async () => {
    // Given
    const points = bandedSeries();

    // When
    const svg = await renderAlertChartSvg({ title: 'band', threshold: 0.999, points, focus: points[99]!.t });

    // Then: the value line gives the value -> y mapping of the panel
    const [line] = markPaths(svg, 'mark-line');
    const vertices = subpaths(line ?? '')[0] ?? [];
    expect(vertices).toHaveLength(100);
    const [x0, y0] = vertices[0]!;
    const [, y99] = vertices[99]!;
    expect(x0).toBe(0);
    const yOf = (v: number): number => y0 + ((v - points[0]!.value) * (y99 - y0)) / (points[99]!.value - points[0]!.value);
    const xOf = (i: number): number => (i * BAND_WIDTH) / 99;

    // One area, two pieces: points 40-69 and 74-99; each goes along lo, then back along hi.
    const areas = markPaths(svg, 'mark-area');
    expect(areas).toHaveLength(1);
    const pieces = subpaths(areas[0]!);
    expect(pieces).toHaveLength(2);
    for (const [piece, from, to] of [[pieces[0]!, 40, 69], [pieces[1]!, 74, 99]] as const) {
      const n = to - from + 1;
      expect(piece).toHaveLength(2 * n);
      for (let k = 0; k < n; k++) {
        const band = points[from + k]!.band!;
        const [xLo, yLo] = piece[k]!;
        const [xHi, yHi] = piece[2 * n - 1 - k]!;
        expect(xLo).toBeCloseTo(xOf(from + k), 2);
        expect(xHi).toBeCloseTo(xOf(from + k), 2);
        expect(yLo).toBeCloseTo(yOf(band.lo), 1);
        expect(yHi).toBeCloseTo(yOf(band.hi), 1);
      }
    }
    expect(svg).toContain('shaded: expected range');
  });

  it('marks the alerted point with a ring and its expected range as a bar', async () => {
    const points = bandedSeries();
    const svg = await renderAlertChartSvg({ title: 'band', threshold: 0.999, points, focus: points[99]!.t });
    // The bar: a rule from lo to hi at the alerted point's x (aria labels carry the data).
    expect(svg).toMatch(/aria-label="t: [^"]*; lo: 95; hi: 104" role="graphics-symbol" aria-roledescription="rule mark" transform="translate\(820,[^)]*\)"/);
    expect(svg).toMatch(/aria-label="t: [^"]*; lo: 95" role="graphics-symbol" aria-roledescription="tick"/);
    expect(svg).toMatch(/aria-label="t: [^"]*; hi: 104" role="graphics-symbol" aria-roledescription="tick"/);
    // The ring: an unfilled red symbol at the alerted value, larger than the marker.
    expect(svg).toMatch(/aria-label="t: [^"]*; value: 150" role="graphics-symbol" aria-roledescription="point" transform="translate\(820,[^)]*\)" d="M10\.\d+,0A[^"]*" stroke="#dc2626" stroke-width="2\.5"/);
  });

  it('draws no band without one, and a lone banded point as a bar', async () => {
    const plain = bandedSeries().map((point) => ({ ...point, band: null }));
    const svg = await renderAlertChartSvg({ title: 'no band', threshold: 0.999, points: plain });
    expect(markPaths(svg, 'mark-area')).toHaveLength(0);
    expect(svg).not.toContain('expected range');

    const lone = bandedSeries().map((point, i) => ({ ...point, band: i === 50 ? { lo: 90, hi: 95 } : null }));
    const loneSvg = await renderAlertChartSvg({ title: 'lone', threshold: 0.999, points: lone });
    expect(loneSvg).toMatch(/aria-label="t: [^"]*; lo: 90; hi: 95" role="graphics-symbol" aria-roledescription="rule mark"/);
  });

  it('shows the band in the PNG', async () => {
    const points = bandedSeries();
    const banded = decodePng(await renderAlertChart({ title: 'band', threshold: 0.999, points, focus: points[99]!.t }));
    const plain = decodePng(await renderAlertChart({ title: 'band', threshold: 0.999, points: points.map((p) => ({ ...p, band: null })) }));
    expect(countPixels(banded, isBandBlue, [PLOT_TOP, banded.height])).toBeGreaterThan(20_000);
    // (The value line's anti-aliased edge has a few such pixels.)
    expect(countPixels(plain, isBandBlue, [PLOT_TOP, plain.height])).toBeLessThan(2_000);
  });
});

// ---------------------------------------------------------------------------------------------
// The compile cache: a chart drawn from its shape's compiled template is the chart a fresh
// vega-lite compile of its own spec draws, whatever came before it in the process.

describe('the alert chart compiled once per shape', () => {
  const banded = bandedSeries();
  const cases: [string, ChartInput][] = [
    ['banded, focused', { title: 'band', threshold: 0.999, points: banded, focus: banded[99]!.t }],
    ['the same shape, another title and range', { title: 'other "quoted" $& title @@chart:title@@', threshold: 0.5, points: banded.slice(10).map((p) => ({ ...p, t: new Date(p.t.getTime() + 86_400_000 * 3) })), focus: banded[99]!.t }],
    ['a focus without a band', { title: 'ring only', threshold: 0.999, points: banded.map((p) => ({ ...p, band: null })), focus: banded[99]!.t }],
    ['a focus with no value', { title: 'bar only', threshold: 0.999, points: banded.map((p, i) => (i === 99 ? { ...p, value: Number.NaN } : p)), focus: banded[99]!.t }],
    ['a score above 1, days long', { title: 'days', threshold: 1.5, points: series(250, [200]).map((p, i) => ({ ...p, t: new Date(p.t.getTime() * 1 + i * 3_600_000), score: i === 200 ? 2.5 : p.score })) }],
    ['no threshold, few points (dots)', { title: 'dots', threshold: null, points: series(30, [20]) }],
    ['no points', { title: 'empty', threshold: 0.8, points: [] }],
    ['a single point', { title: 'one', threshold: 0.8, points: series(1, [0]) }],
    ['no scores', { title: 'no scores', threshold: 0.8, points: series(30).map((p) => ({ ...p, score: null, scoreSmooth: null })) }],
  ];
  afterEach(() => {
    vi.useRealTimers();
  });
  it.each(cases)('draws %s as a fresh compile does', async (_name, input) => {
    // Without points the time axis is centred on now: hold now still between the two drawings.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 10, 22, 9, 30) });
    expect(await renderAlertChartSvg(input)).toBe(await freshAlertChartSvg(input));
  });
});
