/**
 * The alert chart: metric value on top, anomaly score below (0-1, threshold dashed), alert and
 * change points marked, time in UTC. Drawn as vega-lite -> vega (headless) -> SVG -> PNG
 * (resvg). The same drawing serves the email, Slack and the dashboard plot job. vega-lite
 * compiles each shape of chart (which layers it has) once per process; each chart fills its
 * values and data into that vega spec (see compiledTemplate).
 *
 * The PNG is 2x the layout size by default: the email shows it 900 CSS px wide and Slack lets
 * one open it full size, so the 2x is what keeps 11 px axis labels sharp on high-density screens.
 *
 * Text needs a font and nothing may be fetched at run time, so the DejaVu Sans files vendored
 * in `./fonts/` are loaded explicitly (no system fonts), and vega measures text with the same
 * font's advance widths (`./fonts/dejavu-widths.json`) instead of its 0.8em-per-character guess.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { validRange } from './message.js';

/** One point of the series drawn in an alert chart. */
export interface ChartPoint {
  t: Date;
  value: number;
  /** 0-1 anomaly score; null where the point was not scored. */
  score: number | null;
  /** Smoothed score (the one compared with the threshold); null where unknown. */
  scoreSmooth: number | null;
  /** An anomaly alert at this point. */
  alert: boolean;
  /** A change alert at this point. */
  change: boolean;
  /** A threshold (upper/lower bound) alert at this point. */
  tholdalert?: boolean;
  /** The range the model expected the value in (value units); absent or null where it gave none. */
  band?: { lo: number; hi: number } | null;
}

export interface ChartInput {
  title: string;
  /** Alert threshold on the score axis; null draws no threshold line. */
  threshold: number | null;
  points: ChartPoint[];
  /** The point the message is about: ringed, with its expected range as a bar when it has one. */
  focus?: Date;
}

export interface ChartOptions {
  /**
   * Pixel density of the PNG relative to the chart's layout size (about 900 px wide).
   * @defaultValue 2
   */
  scale?: number;
}

export const FONT_FAMILY = 'DejaVu Sans';

const fontDirectory = new URL('./fonts/', import.meta.url);
const fontFiles = [
  fileURLToPath(new URL('DejaVuSans.ttf', fontDirectory)),
  fileURLToPath(new URL('DejaVuSans-Bold.ttf', fontDirectory)),
];

const COLOURS = {
  value: '#2563eb',
  score: '#16a34a',
  scoreSmooth: '#065f46',
  alert: '#dc2626',
  change: '#f59e0b',
  tholdalert: '#9333ea',
  threshold: '#b91c1c',
  band: '#93c5fd',
} as const;

const SERIES = ['value', 'score', 'smoothed score'] as const;
const MARKERS = ['anomaly', 'change', 'threshold breach'] as const;

const PANEL_WIDTH = 820;
const VALUE_HEIGHT = 240;
const SCORE_HEIGHT = 120;

// ---------------------------------------------------------------------------------------------
// Text measurement with the vendored font's advance widths.

interface FontWidths {
  unitsPerEm: number;
  ranges: [number, number[]][];
}

function loadWidthTable(fontWidths: FontWidths): { perEm: Map<number, number>; fallback: number } {
  const perEm = new Map<number, number>();
  for (const [start, widths] of fontWidths.ranges) {
    widths.forEach((width, index) => perEm.set(start + index, width / fontWidths.unitsPerEm));
  }
  // Characters outside the subset render as the missing glyph; measure them like an 'M'.
  return { perEm, fallback: perEm.get(0x4d) ?? 0.86 };
}

let textMetricsInstalled = false;

/**
 * Replaces vega's text width estimate (0.8 x font size per character, used when no canvas
 * package is present) with the DejaVu Sans advance widths, so that axis titles, labels and
 * legends are laid out for the font resvg draws them with. Process-wide, like vega's own.
 */
function installTextMetrics(): void {
  if (textMetricsInstalled) {
    return;
  }
  const table = JSON.parse(readFileSync(new URL('dejavu-widths.json', fontDirectory), 'utf8')) as Record<
    string,
    FontWidths
  >;
  const regular = table['DejaVuSans'];
  const bold = table['DejaVuSans-Bold'];
  if (regular === undefined || bold === undefined) {
    throw new Error('alert chart: fonts/dejavu-widths.json lacks DejaVuSans or DejaVuSans-Bold');
  }
  const regularWidths = loadWidthTable(regular);
  const boldWidths = loadWidthTable(bold);
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } })
    .textMetrics;
  metrics.width = (item: TextItem, text: unknown): number => {
    const fontSize = item.fontSize === null || item.fontSize === undefined ? 11 : Number(item.fontSize) || 0;
    const value = text === null || text === undefined ? '' : String(text).trim();
    if (fontSize <= 0 || value === '') {
      return 0;
    }
    const weight = item.fontWeight;
    const isBold = weight === 'bold' || weight === 'bolder' || (typeof weight === 'number' && weight >= 600);
    const widths = isBold ? boldWidths : regularWidths;
    let em = 0;
    for (const character of value) {
      em += widths.perEm.get(character.codePointAt(0) ?? 0) ?? widths.fallback;
    }
    return em * fontSize;
  };
  textMetricsInstalled = true;
}

interface TextItem {
  fontSize?: number | string | null;
  fontWeight?: string | number | null;
}

// ---------------------------------------------------------------------------------------------
// The spec.

interface SeriesRow {
  t: number;
  series: (typeof SERIES)[number];
  y: number | null;
}

interface BandRow {
  t: number;
  /** Both null where the point has no band: the area breaks there. */
  lo: number | null;
  hi: number | null;
}

interface MarkerRow {
  t: number;
  marker: (typeof MARKERS)[number];
  value: number | null;
  score: number | null;
}

const finiteOrNull = (x: number | null | undefined): number | null =>
  typeof x === 'number' && Number.isFinite(x) ? x : null;

function formatUtc(date: Date): string {
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

function formatThreshold(threshold: number): string {
  return Number.isInteger(threshold) ? threshold.toFixed(1) : String(Number(threshold.toPrecision(4)));
}

/**
 * What fixes the structure of the compiled spec (which layers exist, the time label format):
 * charts of one shape compile to the same vega spec but for {@link ChartValues} and the data.
 */
interface ChartShape {
  hasBand: boolean;
  /** The focus point has an expected range (the bar with caps). */
  focusBar: boolean;
  /** The focus point has a value (the ring). */
  focusRing: boolean;
  hasThreshold: boolean;
  hasValues: boolean;
  hasScores: boolean;
  showPointDots: boolean;
  timeFormat: string;
  /** A tick at each midnight: days-only labels over 3 to 10 days, where 8 ticks would fall twice a day and repeat each date. */
  dayTicks: boolean;
}

/** The scalars that vary within one shape. */
interface ChartValues {
  title: string;
  subtitle: string;
  timeAxisTitle: string;
  timeDomain: [number, number];
  scoreTop: number;
}

const DATA_SLOTS = [
  'alertRules',
  'changeRules',
  'bands',
  'loneBands',
  'valueLine',
  'valueMarkers',
  'focus',
  'note',
  'scoreAxis',
  'scoreLine',
  'smoothLine',
  'thresholdRule',
  'thresholdLabel',
  'scoreMarkers',
] as const;
type DataSlot = (typeof DATA_SLOTS)[number];
/** The inline data of each layer. */
type ChartData = Record<DataSlot, readonly object[]>;

interface ChartLayout {
  shape: ChartShape;
  values: ChartValues;
  data: ChartData;
}

/** The vega-lite spec of the alert chart; exported for tests. */
export function alertChartSpec(input: ChartInput): TopLevelSpec {
  const { shape, values, data } = chartLayout(input);
  return specOf(shape, values, data);
}

function chartLayout(input: ChartInput): ChartLayout {
  const points = input.points
    .filter((point) => Number.isFinite(point.t.getTime()))
    .slice()
    .sort((a, b) => a.t.getTime() - b.t.getTime());

  const series: SeriesRow[] = [];
  const markers: MarkerRow[] = [];
  const bands: BandRow[] = [];
  const focusTime = input.focus?.getTime();
  let focus: (MarkerRow & BandRow) | null = null;
  let maxScore = 1;
  for (const point of points) {
    const t = point.t.getTime();
    const value = finiteOrNull(point.value);
    const band = validRange(point.band);
    bands.push({ t, lo: band?.lo ?? null, hi: band?.hi ?? null });
    const score = finiteOrNull(point.score);
    const scoreSmooth = finiteOrNull(point.scoreSmooth);
    series.push({ t, series: 'value', y: value });
    series.push({ t, series: 'score', y: score });
    series.push({ t, series: 'smoothed score', y: scoreSmooth });
    maxScore = Math.max(maxScore, score ?? 0, scoreSmooth ?? 0);
    // The marker sits on the smoothed score (the one the threshold applies to) when known.
    const markerScore = scoreSmooth ?? score;
    if (point.alert) {
      markers.push({ t, marker: 'anomaly', value, score: markerScore });
    }
    if (point.change) {
      markers.push({ t, marker: 'change', value, score: markerScore });
    }
    if (point.tholdalert === true) {
      markers.push({ t, marker: 'threshold breach', value, score: markerScore });
    }
    if (t === focusTime) {
      focus = { t, marker: 'anomaly', value, score: markerScore, lo: band?.lo ?? null, hi: band?.hi ?? null };
    }
  }
  const hasBand = bands.some((row) => row.lo !== null);

  const times = points.map((point) => point.t.getTime());
  const first = times[0];
  const last = times[times.length - 1];
  // A single point (or none) gives the time scale no width; pad it by an hour either side.
  const timeDomain =
    first === undefined || last === undefined
      ? [Date.now() - 3_600_000, Date.now() + 3_600_000]
      : first === last
        ? [first - 3_600_000, last + 3_600_000]
        : [first, last];

  const hasScores = series.some((row) => row.series !== 'value' && row.y !== null);
  const hasValues = series.some((row) => row.series === 'value' && row.y !== null);
  const threshold = finiteOrNull(input.threshold);
  const scoreTop = Math.max(maxScore, threshold ?? 0);
  const showPointDots = points.length <= 60;

  const subtitleParts = [`n=${points.length}`];
  if (first !== undefined && last !== undefined) {
    subtitleParts.push(
      first === last
        ? `${formatUtc(new Date(first))} UTC`
        : `${formatUtc(new Date(first))} to ${formatUtc(new Date(last))} UTC`,
    );
  }
  if (threshold !== null) {
    subtitleParts.push(`threshold ${formatThreshold(threshold)}`);
  }
  if (hasBand) {
    subtitleParts.push('shaded: expected range');
  }

  const span = timeDomain[1]! - timeDomain[0]!;
  const lone = bands.filter((row, i) => row.lo !== null && (bands[i - 1]?.lo ?? null) === null && (bands[i + 1]?.lo ?? null) === null);
  return {
    shape: {
      hasBand,
      focusBar: focus !== null && focus.lo !== null,
      focusRing: focus !== null && focus.value !== null,
      hasThreshold: threshold !== null,
      hasValues,
      hasScores,
      showPointDots,
      // One label format for the whole axis (vega's default mixes "Fri 20" with "Nov 22").
      timeFormat: span > 3 * 86_400_000 ? '%b %d' : span > 86_400_000 ? '%b %d %H:%M' : '%H:%M',
      dayTicks: span > 3 * 86_400_000 && span <= 10 * 86_400_000,
    },
    values: {
      title: input.title,
      subtitle: subtitleParts.join('  ·  '),
      timeAxisTitle: span > 86_400_000 ? 'time (UTC)' : `time (UTC), ${formatUtc(new Date(timeDomain[0]!)).slice(0, 10)}`,
      timeDomain: [timeDomain[0]!, timeDomain[1]!],
      scoreTop,
    },
    data: {
      alertRules: markers.filter((row) => row.marker !== 'change'),
      changeRules: markers.filter((row) => row.marker === 'change'),
      bands,
      loneBands: lone,
      valueLine: series.filter((row) => row.series === 'value'),
      valueMarkers: markers.filter((row) => row.value !== null),
      focus: focus === null ? [] : [focus],
      note: [{}],
      scoreAxis: [{ t: timeDomain[0], y: 0 }],
      scoreLine: series.filter((row) => row.series === 'score'),
      smoothLine: series.filter((row) => row.series === 'smoothed score'),
      thresholdRule: threshold === null ? [] : [{ t: timeDomain[0], t2: timeDomain[1], threshold }],
      thresholdLabel: threshold === null ? [] : [{ threshold, label: `threshold ${formatThreshold(threshold)}` }],
      scoreMarkers: markers.filter((row) => row.score !== null && row.marker !== 'change'),
    },
  };
}

/** Lays the chart out as vega-lite; `values` and `data` may be placeholders (see compiledTemplate). */
function specOf(shape: ChartShape, values: ChartValues, data: ChartData): TopLevelSpec {
  const { timeDomain, timeAxisTitle, scoreTop } = values;
  const { timeFormat, showPointDots, dayTicks } = shape;
  const x = { field: 't', type: 'temporal' as const };
  const xEncoding = (showAxis: boolean) => ({
    ...x,
    scale: { type: 'utc' as const, domain: timeDomain },
    axis: showAxis
      ? { title: timeAxisTitle, format: timeFormat, labelAngle: 0, tickCount: dayTicks ? { interval: 'day' as const, step: 1 } : 8, labelOverlap: true, labelFlush: true, grid: true }
      : { title: null, labels: false, ticks: false, domain: false, grid: true, tickCount: 8 },
  });

  const seriesColour = {
    field: 'series',
    type: 'nominal' as const,
    scale: { domain: [...SERIES], range: [COLOURS.value, COLOURS.score, COLOURS.scoreSmooth] },
    legend: { title: null, symbolType: 'stroke', symbolStrokeWidth: 3 },
  };
  const markerShape = {
    field: 'marker',
    type: 'nominal' as const,
    scale: { domain: [...MARKERS], range: ['circle', 'diamond', 'triangle-up'] },
    legend: { title: null },
  };
  const markerFill = {
    field: 'marker',
    type: 'nominal' as const,
    scale: { domain: [...MARKERS], range: [COLOURS.alert, COLOURS.change, COLOURS.tholdalert] },
    legend: { title: null },
  };

  const alertRules = {
    data: { values: data.alertRules },
    mark: { type: 'rule' as const, color: COLOURS.alert, opacity: 0.3, strokeWidth: 1.5 },
  };
  const changeRules = {
    data: { values: data.changeRules },
    mark: { type: 'rule' as const, color: COLOURS.change, opacity: 0.6, strokeDash: [4, 3], strokeWidth: 1.5 },
  };
  const note = (text: string, height: number) => ({
    data: { values: data.note },
    mark: { type: 'text' as const, text, color: '#6b7280', fontSize: 13 },
    encoding: { x: { value: PANEL_WIDTH / 2 }, y: { value: height / 2 } },
  });
  const markerLayer = (field: 'value' | 'score', rows: readonly object[], size: number) => ({
    data: { values: rows },
    mark: { type: 'point' as const, filled: true, size, opacity: 1, stroke: 'white', strokeWidth: 1 },
    encoding: { y: { field, type: 'quantitative' as const }, shape: markerShape, fill: markerFill },
  });
  const scoreLine = (rows: readonly object[], strokeWidth: number, strokeDash: number[]) => ({
    data: { values: rows },
    mark: { type: 'line' as const, strokeWidth, strokeDash, point: showPointDots ? { size: 12 } : false },
    encoding: { y: { field: 'y', type: 'quantitative' as const }, color: seriesColour },
  });

  // The expected band under the value line; a point without one leaves a gap (null breaks the area).
  const bandLayers = shape.hasBand
    ? [
        {
          data: { values: data.bands },
          mark: { type: 'area' as const, color: COLOURS.band, opacity: 0.45, interpolate: 'linear' as const },
          encoding: { y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
        },
        // A lone banded point has no width as an area: a bar shows its range.
        {
          data: { values: data.loneBands },
          mark: { type: 'rule' as const, color: COLOURS.band, strokeWidth: 6, opacity: 0.8 },
          encoding: { y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
        },
      ]
    : [];
  // The point the message is about: a ring, and its expected range as a dark bar with caps.
  const focusLayers = [
          ...(!shape.focusBar
            ? []
            : [
                {
                  data: { values: data.focus },
                  mark: { type: 'rule' as const, color: '#1e40af', strokeWidth: 2 },
                  encoding: { y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
                },
                ...(['lo', 'hi'] as const).map((field) => ({
                  data: { values: data.focus },
                  mark: { type: 'tick' as const, color: '#1e40af', orient: 'horizontal' as const, size: 14, thickness: 2 },
                  encoding: { y: { field, type: 'quantitative' as const } },
                })),
              ]),
          ...(!shape.focusRing
            ? []
            : [
                {
                  data: { values: data.focus },
                  mark: { type: 'point' as const, filled: false, size: 420, stroke: COLOURS.alert, strokeWidth: 2.5, opacity: 1 },
                  encoding: { y: { field: 'value', type: 'quantitative' as const } },
                },
              ]),
  ];

  const valuePanel = {
    height: VALUE_HEIGHT,
    width: PANEL_WIDTH,
    encoding: { x: xEncoding(false) },
    layer: [
      alertRules,
      changeRules,
      ...bandLayers,
      {
        data: { values: data.valueLine },
        mark: { type: 'line' as const, strokeWidth: 1.75, point: showPointDots ? { size: 18 } : false },
        encoding: {
          y: {
            field: 'y',
            type: 'quantitative' as const,
            scale: { zero: false, nice: true, padding: 10 },
            axis: { title: 'value', grid: true, tickCount: 6 },
          },
          color: seriesColour,
        },
      },
      markerLayer('value', data.valueMarkers, 80),
      ...focusLayers,
      ...(shape.hasValues ? [] : [note('no values', VALUE_HEIGHT)]),
    ],
  };

  const scorePanel = {
    height: SCORE_HEIGHT,
    width: PANEL_WIDTH,
    encoding: { x: xEncoding(true) },
    layer: [
      alertRules,
      changeRules,
      {
        // Carries the score axis (0-1 unless a score exceeds 1) whether or not any score exists.
        data: { values: data.scoreAxis },
        mark: { type: 'point' as const, opacity: 0 },
        encoding: {
          y: {
            field: 'y',
            type: 'quantitative' as const,
            scale: { domain: [0, scoreTop], nice: false },
            axis: { title: 'score', grid: true, tickCount: 5, format: '.2~f' },
          },
        },
      },
      scoreLine(data.scoreLine, 1.25, [4, 3]),
      scoreLine(data.smoothLine, 2.25, []),
      ...(!shape.hasThreshold
        ? []
        : [
            {
              // x and x2 span the panel: the layer inherits the panel's time encoding.
              data: { values: data.thresholdRule },
              mark: { type: 'rule' as const, color: COLOURS.threshold, strokeDash: [6, 4], strokeWidth: 1.5 },
              encoding: { x2: { field: 't2' }, y: { field: 'threshold', type: 'quantitative' as const } },
            },
            {
              data: { values: data.thresholdLabel },
              mark: {
                type: 'text' as const,
                align: 'right' as const,
                baseline: 'bottom' as const,
                dy: -3,
                color: COLOURS.threshold,
                fontSize: 11,
              },
              encoding: {
                y: { field: 'threshold', type: 'quantitative' as const },
                x: { value: PANEL_WIDTH - 4 },
                text: { field: 'label', type: 'nominal' as const },
              },
            },
          ]),
      markerLayer('score', data.scoreMarkers, 60),
      ...(shape.hasScores ? [] : [note('no scores', SCORE_HEIGHT)]),
    ],
  };

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: values.title,
      subtitle: values.subtitle,
      anchor: 'start',
      fontSize: 17,
      subtitleFontSize: 12,
      subtitleColor: '#4b5563',
      offset: 10,
      limit: PANEL_WIDTH + 60,
    },
    background: 'white',
    padding: 16,
    spacing: 6,
    config: {
      font: FONT_FAMILY,
      view: { stroke: '#d1d5db' },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titleColor: '#374151', labelColor: '#374151', gridColor: '#eceef1' },
      legend: { labelFontSize: 12, symbolSize: 90, columnPadding: 14, orient: 'top', padding: 4 },
    },
    vconcat: [valuePanel, scorePanel],
    resolve: { scale: { x: 'shared', color: 'shared', shape: 'shared', fill: 'shared' }, legend: { color: 'shared', shape: 'shared', fill: 'shared' } },
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------
// Compiling once per shape. vega-lite's compile costs about as much as the rest of the vega work
// of a chart, and its output differs between charts of one shape only in the ChartValues and the
// inline data. So a shape is compiled once per process with placeholders (a token for each text,
// an unlikely number for each number, a marker object for each layer's data) and each chart fills
// them into a copy.

/** Placeholder numbers: written as plain numbers in the compiled spec (the time domain also inside datetime() expressions). */
const SENTINEL = { timeStart: 4102444800123, timeEnd: 4102444800457, scoreTop: 987654.25 } as const;
const TOKEN = (name: keyof ChartValues): string => `@@chart:${name}@@`;
const TEMPLATE_VALUES: ChartValues = {
  title: TOKEN('title'),
  subtitle: TOKEN('subtitle'),
  timeAxisTitle: TOKEN('timeAxisTitle'),
  timeDomain: [SENTINEL.timeStart, SENTINEL.timeEnd],
  scoreTop: SENTINEL.scoreTop,
};
const SLOT_KEY = '@@slot';
const TEMPLATE_DATA = Object.fromEntries(DATA_SLOTS.map((slot) => [slot, [{ [SLOT_KEY]: slot }]])) as unknown as ChartData;
const PLACEHOLDER = new RegExp(`"@@chart:(\\w+)@@"|(?<![\\d.])(${Object.values(SENTINEL).map((n) => String(n).replace('.', '\\.')).join('|')})(?![\\d.])`, 'g');

/** The compiled vega spec of each shape seen, as JSON text with placeholders (a handful of shapes in practice). */
const templates = new Map<string, string>();

function compiledTemplate(shape: ChartShape): string {
  const key = JSON.stringify(shape);
  let template = templates.get(key);
  if (template === undefined) {
    template = JSON.stringify(compile(specOf(shape, TEMPLATE_VALUES, TEMPLATE_DATA), { logger: quietLogger }).spec);
    // Each text placeholder must stand alone as a JSON string and each number must be there, or
    // filling them in would not reproduce a fresh compile: fail loudly if vega-lite changes that.
    const standalone = template.match(/"@@chart:\w+@@"/g)?.length ?? 0;
    const anywhere = template.match(/@@chart:/g)?.length ?? 0;
    const missing = Object.values(SENTINEL).filter((n) => !template!.includes(String(n)));
    if (standalone !== anywhere || missing.length > 0) {
      throw new Error(`alert chart: the compiled spec embeds a placeholder in an expression (${anywhere - standalone}) or drops one (${missing.join(', ')})`);
    }
    templates.set(key, template);
  }
  return template;
}

/** The vega spec of one chart: its shape's compiled template with its values and data filled in. */
function compiledSpec(input: ChartInput): vega.Spec {
  const { shape, values, data } = chartLayout(input);
  const numbers = new Map<string, number>([
    [String(SENTINEL.timeStart), values.timeDomain[0]],
    [String(SENTINEL.timeEnd), values.timeDomain[1]],
    [String(SENTINEL.scoreTop), values.scoreTop],
  ]);
  // One pass, so nothing filled in (a title, say) is itself taken for a placeholder.
  const text = compiledTemplate(shape).replace(PLACEHOLDER, (_match, name: string | undefined, number: string | undefined) =>
    name === undefined ? String(numbers.get(number!)) : JSON.stringify(values[name as keyof ChartValues]),
  );
  const spec = JSON.parse(text) as vega.Spec;
  for (const source of spec.data ?? []) {
    const values = 'values' in source ? source.values : undefined;
    const slot = Array.isArray(values) && values.length === 1 ? (values[0] as Record<string, unknown>)[SLOT_KEY] : undefined;
    if (typeof slot === 'string') {
      (source as { values: unknown }).values = data[slot as DataSlot];
    }
  }
  return spec;
}

/** Renders the chart to SVG text (vega headless, no fetches). */
export async function renderAlertChartSvg(input: ChartInput): Promise<string> {
  installTextMetrics();
  const view = new vega.View(vega.parse(compiledSpec(input)), {
    renderer: 'none',
    // Everything is inline; a loader that fetches nothing guards against a spec that would.
    loader: refusingLoader,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const refusingLoader = {
  ...vega.loader(),
  load: (uri: string) => Promise.reject(new Error(`alert chart: refusing to load ${uri}`)),
  sanitize: (uri: string) => Promise.reject(new Error(`alert chart: refusing to load ${uri}`)),
  http: (uri: string) => Promise.reject(new Error(`alert chart: refusing to fetch ${uri}`)),
  file: (path: string) => Promise.reject(new Error(`alert chart: refusing to read ${path}`)),
} as unknown as vega.Loader;

/** Renders the alert chart as a PNG (white background, DejaVu Sans text). */
export async function renderAlertChart(input: ChartInput, options: ChartOptions = {}): Promise<Buffer> {
  const svg = await renderAlertChartSvg(input);
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    font: { loadSystemFonts: false, fontFiles, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  });
  return resvg.render().asPng();
}

// vega-lite warns about legend merging it resolves as intended; keep the worker's log clean.
const quietLogger = vega.logger(vega.None);
