import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertBatch } from '../services/alert/src/alert.js';
import type { MetricRow } from '../shared/metric-row.js';
import { countPixels, decodePng as decodePixels, isBandBlue } from './support/png.js';
import { decodePng, seed, series, setUpAlertJobs, type AlertJobsFixture } from './alert-jobs-fixtures.js';

// The alert job end to end: the score rows' metadata (per-model scores, the expected band) reaches
// the email, the Slack message and the chart. `conformal` runs the defaults; `original` names PCA + KNN.
const CHANNELS = 'alert_methods: "email,slack"\n';
const ORIGINAL = `${CHANNELS}alert_threshold: 0.8
alert_smooth_n: 0
model_configs:
  - {model_name: PCA, model_tag: pca, model_params: {}}
  - {model_name: KNN, model_tag: knn, model_params: {}}
`;

let fixture: AlertJobsFixture;
const now = new Date('2026-11-25T12:00:00Z');
const calm = Array.from({ length: 60 }, (_, i) => 100 + (i % 5));

/** Score rows given `metadata(i)` (i the point's index), metric rows as they are. */
function withMetadata(rows: MetricRow[], metadata: (i: number) => Record<string, unknown>): MetricRow[] {
  let i = 0;
  return rows.map((row) => (row.metric_type === 'score' ? { ...row, metadata: metadata(i++) } : row));
}

beforeAll(async () => {
  fixture = await setUpAlertJobs({ conformal: CHANNELS, original: ORIGINAL });
});

afterAll(async () => {
  await fixture?.close();
});

describe('alert job: each alert says why', () => {
  it('the default detector: the expected range, Conformal as the detector, about 1 in N, the band on the chart', async () => {
    // Given: 60 calm points with a band, then a spike to 160 the band put at 98-106, scored 0.99995
    const scores = [...calm.map(() => 0.3), 0.99995];
    const rows = withMetadata(series('conformal', 'latency', now, [...calm, 160], scores), (i) => ({
      models: { conformal_default: scores[i]! },
      band: { lo: 98, hi: 106 },
    }));
    await seed(fixture, 'conformal', rows);

    // When
    const result = await createAlertBatch({})(fixture.batch('conformal'), fixture.context(now));

    // Then: the email
    expect(result).toMatchObject({ status: 'ok', rows: 1 });
    const [mail] = await fixture.smtp.waitFor(1);
    expect(mail!.text).toMatch(/^Why: +value 160 is above the expected range 98 to 106; score 0\.99995 >= threshold 0\.999$/m);
    expect(mail!.text).toMatch(/^Detector: +conformal_default \(Conformal\) 0\.99995$/m);
    expect(mail!.text).toMatch(/^How unusual: +about 1 in 20,000 of this metric's training points look this unusual/m);
    expect(mail!.text).toContain('its expected range shaded');

    // Then: Slack, and the chart it uploads shades the band (pale blue #93c5fd at 0.45 on white)
    await fixture.slack.waitForFiles(1);
    const blocks = JSON.stringify(fixture.slack.messages[0]!.blocks);
    expect(blocks).toContain('conformal_default (Conformal) 0.99995');
    expect(blocks).toContain('about 1 in 20,000');
    const png = decodePng(fixture.slack.files[0]!.bytes!);
    expect(png.width).toBeGreaterThan(800);
    // ANOMSTACK_TEST_KEEP_CHART=<file> keeps the chart for a look at what an alert shows.
    if (process.env.ANOMSTACK_TEST_KEEP_CHART) {
      await writeFile(process.env.ANOMSTACK_TEST_KEEP_CHART, fixture.slack.files[0]!.bytes!);
    }
    expect(countPixels(decodePixels(fixture.slack.files[0]!.bytes!), isBandBlue)).toBeGreaterThan(10_000);
  });

  it('the original models: the detector and its scale, no Why and no rate, no band on the chart', async () => {
    fixture.smtp.reset();
    fixture.slack.reset();
    // Given: PCA and KNN scores, no band (they give none)
    const pca = [...calm.map(() => 0.2), 0.85];
    const knn = [...calm.map(() => 0.1), 1];
    const rows = withMetadata(series('original', 'latency', now, [...calm, 160], knn), (i) => ({ models: { pca: pca[i]!, knn: knn[i]! } }));
    await seed(fixture, 'original', rows);

    // When
    await createAlertBatch({})(fixture.batch('original'), fixture.context(now));

    // Then
    const [mail] = await fixture.smtp.waitFor(1);
    expect(mail!.text).not.toMatch(/^Why:/m);
    expect(mail!.text).not.toContain('1 in ');
    expect(mail!.text).toMatch(/^Detector: +knn \(KNN\) 1, the highest of 2 models \(pca 0\.85\)$/m);
    expect(mail!.text).toMatch(/^How unusual: +at least as unusual as the most unusual point KNN was trained on/m);
    expect(mail!.text).not.toContain('shaded');
    await fixture.slack.waitForFiles(1);
    expect(countPixels(decodePixels(fixture.slack.files[0]!.bytes!), isBandBlue)).toBeLessThan(2_000);
  });
});
