import type { ChartPoint } from '../../shared/alerts/chart.js';
import type { AlertMessage } from '../../shared/alerts/message.js';

/** `n` ten-minute points from 2026-11-24 00:00 UTC whose last one is a spike that alerted. */
export function spikePoints(n: number): ChartPoint[] {
  const start = Date.UTC(2026, 10, 24, 0, 0);
  return Array.from({ length: n }, (_, i) => ({
    t: new Date(start + i * 600_000),
    value: 50 + (i === n - 1 ? 40 : Math.sin(i)),
    score: 0.1,
    scoreSmooth: i === n - 1 ? 0.91 : 0.1,
    alert: i === n - 1,
    change: false,
  }));
}

/** An anomaly alert of `cpu_usage` in `batch_one`, for the message and sender tests. */
export function sampleAlertMessage(overrides: Partial<AlertMessage> = {}, points = 30): AlertMessage {
  return {
    kind: 'anomaly',
    batch: 'batch_one',
    metric: 'cpu_usage',
    timestamp: new Date(Date.UTC(2026, 10, 24, 3, 0)),
    value: 91.25,
    score: 0.9731,
    scoreSmooth: 0.9104,
    threshold: 0.8,
    tags: { team: 'infra', env: 'prod' },
    details: {},
    points: spikePoints(points),
    ...overrides,
  };
}

/** The default detector's view of the spike: a calibrated score, the expected range, the model that gave them. */
export function conformalAlertMessage(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return sampleAlertMessage({
    score: 0.999953,
    scoreSmooth: 0.999953,
    threshold: 0.999,
    expected: { lo: 48.5, hi: 51.25 },
    models: [{ tag: 'conformal_default', model: 'Conformal', score: 0.999953, calibrated: true }],
    ...overrides,
  });
}

/** The original's PCA + KNN: min-max scaled scores, no expected range; KNN scored highest. */
export function pcaKnnAlertMessage(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return sampleAlertMessage({
    models: [
      { tag: 'knn', model: 'KNN', score: 0.9731, calibrated: false },
      { tag: 'pca', model: 'PCA', score: 0.8477, calibrated: false },
    ],
    ...overrides,
  });
}
