import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { renderAlertChart, renderAlertChartSvg } from '../shared/alerts/chart.js';
import type { ChartInput, ChartPoint } from '../shared/alerts/chart.js';

// A small PNG reader (8-bit RGB/RGBA, not interlaced: what resvg writes), so the tests look at
// pixels rather than trusting that some bytes came back.
interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function decodePng(png: Buffer): DecodedPng {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('ascii', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8); // bit depth
      const colourType = data[9];
      expect([2, 6]).toContain(colourType);
      channels = colourType === 6 ? 4 : 3;
      expect(data[12]).toBe(0); // not interlaced
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x += 1) {
      const byte = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = y > 0 && x >= channels ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      let predicted = 0;
      if (filter === 1) {
        predicted = left;
      } else if (filter === 2) {
        predicted = up;
      } else if (filter === 3) {
        predicted = Math.floor((left + up) / 2);
      } else if (filter === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - upLeft);
        predicted = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      }
      pixels[y * stride + x] = (byte + predicted) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

function countPixels(png: DecodedPng, match: (r: number, g: number, b: number) => boolean, rows?: [number, number]): number {
  const [top, bottom] = rows ?? [0, png.height];
  let count = 0;
  for (let y = top; y < bottom; y += 1) {
    for (let x = 0; x < png.width; x += 1) {
      const i = (y * png.width + x) * png.channels;
      if (match(png.pixels[i] ?? 0, png.pixels[i + 1] ?? 0, png.pixels[i + 2] ?? 0)) {
        count += 1;
      }
    }
  }
  return count;
}

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
    const started = performance.now();
    const png = await renderAlertChart(input);
    const elapsed = performance.now() - started;

    // Then
    const decoded = decodePng(png);
    expect(decoded.width).toBeGreaterThan(1500);
    expect(decoded.height).toBeGreaterThan(800);
    // Below the legend (whose 'anomaly' key is red too): the markers and rules.
    expect(countPixels(decoded, isAlertRed, [PLOT_TOP, decoded.height])).toBeGreaterThan(500);
    // The title is drawn in the top band: black glyph pixels exist, so the font loaded.
    expect(countPixels(decoded, isDarkText, [0, 90])).toBeGreaterThan(500);
    expect(elapsed).toBeLessThan(5_000);
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
