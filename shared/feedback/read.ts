/** Reading the verdicts the dashboard stored (`thumbsup`/`thumbsdown` rows) for shared/feedback. */
import type { Db } from '../db/db.js';
import type { Verdict } from './feedback.js';

interface VerdictRow {
  metric_name: string;
  metric_timestamp: Date;
  metric_type: 'thumbsup' | 'thumbsdown';
  score_smooth: number | null;
}

/** A batch's verdicts from `since` on, oldest first; only `metrics`' when given. */
export async function readVerdicts(db: Db, table: string, batch: string, since: Date, metrics?: readonly string[]): Promise<Verdict[]> {
  let rows: VerdictRow[];
  try {
    rows = await db.run<VerdictRow>('select_feedback', [batch, since, metrics ?? null], { table });
  } catch (error) {
    // A batch whose own SQL reads another table may never have had its table created: no verdicts.
    if ((error as { code?: string }).code === '42P01') {
      return [];
    }
    throw error;
  }
  return rows.map((r) => ({
    metric: r.metric_name,
    t: r.metric_timestamp,
    verdict: r.metric_type === 'thumbsup' ? 'up' : 'down',
    scoreSmooth: r.score_smooth === null ? null : Number(r.score_smooth),
  }));
}
