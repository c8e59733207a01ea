import { PROFILE_NAMES, type CorpusScore } from '../nab/score.js';
import type { LabelledScores } from './labels.js';

/** Text tables of NAB scores, shared by `anomstack backtest --labels` and `npm run bench -- nab`. */

const PROFILE_HEADERS = ['standard', 'low FP', 'low FN'];

/** One line per detector and kind (alerts as sent, raw score with the threshold searched), three profiles. */
export function formatNabSummary(runs: readonly { label: string; scores: LabelledScores }[]): string {
  const width = Math.max(36, ...runs.map((r) => r.label.length + 33));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(width) : c.padStart(9))).join(' ');
  const lines = ['NAB normalised score (100 = every window caught at its left edge, 0 = never fires)', line(['detector', ...PROFILE_HEADERS])];
  for (const { label, scores } of runs) {
    lines.push(line([`${label}: alerts as sent`, ...PROFILE_NAMES.map((p) => scores.alerts[p].normalised.toFixed(1))]));
    lines.push(line([`${label}: raw score, threshold searched`, ...PROFILE_NAMES.map((p) => scores.raw[p].normalised.toFixed(1))]));
  }
  return lines.join('\n');
}

/** Per metric (standard profile, alert decisions): windows caught, how early, false alerts and per day. */
export function formatMetricTable(label: string, score: CorpusScore): string {
  const header = ['metric', 'windows', 'caught', 'first alert at p', 'false', 'false/day', 'score'];
  const rows = score.files.map((f) => [
    f.name,
    String(f.windows.length),
    String(f.tp),
    f.windows.map((w) => (w.caught ? w.position.toFixed(2) : 'miss')).join(' ') || '-',
    String(f.fp),
    f.falsePerDay.toFixed(2),
    f.raw.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const tp = score.files.reduce((s, f) => s + f.tp, 0);
  const windows = score.files.reduce((s, f) => s + f.windows.length, 0);
  const fp = score.files.reduce((s, f) => s + f.fp, 0);
  return [
    `${label}: alerts per metric (standard profile)`,
    pad(header),
    ...rows.map(pad),
    `caught ${tp} of ${windows} windows, ${fp} false alerts. p: -1 = the window's left edge (earliest), 0 = its right edge; score: NAB's raw file score`,
  ].join('\n');
}
