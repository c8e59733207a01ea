import { CronExpressionParser } from 'cron-parser';

/**
 * The runs of a (UTC) train cron over a series, as epoch ms, keeping only runs that see a point the
 * previous kept run did not: a run over the same points would fit the same model. So a cron far
 * denser than the points (every minute over hourly data) costs one fit per point, not one per run.
 * A run after the last point scores nothing and is left out.
 */
export function trainRuns(cron: string, t: ArrayLike<number>): number[] {
  const runs: number[] = [];
  if (t.length === 0) {
    return runs;
  }
  const last = t[t.length - 1]!;
  let k = 0;
  let at = firstRunAtOrAfter(cron, t[0]!);
  while (at <= last) {
    runs.push(at);
    while (k < t.length && t[k]! <= at) {
      k++;
    }
    if (k >= t.length) {
      break;
    }
    at = firstRunAtOrAfter(cron, t[k]!);
  }
  return runs;
}

function firstRunAtOrAfter(cron: string, ms: number): number {
  // next() is strictly after currentDate; cron times are whole seconds, so 1 ms earlier includes `ms`.
  return CronExpressionParser.parse(cron, { currentDate: new Date(ms - 1), tz: 'UTC' }).next().getTime();
}
