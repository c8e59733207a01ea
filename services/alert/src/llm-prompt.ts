/**
 * What the llmalert job asks and how it reads the answer. Pure: the series to send (smoothed,
 * rounded, capped), the two messages, and the zod check of the JSON answer. As in the original,
 * the model sees the values under the name `metric_value`, never the metric's or batch's name.
 */
import * as z from 'zod';
import { InputError } from '../../../shared/errors.js';

export interface PromptPoint {
  t: Date;
  value: number;
}

export interface PromptConfig {
  /** `llmalert_smooth_n`: rolling mean over n points before sending (0 or 1: none). */
  smoothN: number;
  /** `llmalert_metric_rounding`: decimals, or -1 for none. */
  rounding: number;
  /** `llmalert_prompt_max_n`: the newest n points are sent. */
  maxN: number;
}

/** The points sent: rolling mean over `smoothN` (the first n-1 dropped), rounded, the newest `maxN`. */
export function promptSeries(points: readonly PromptPoint[], config: PromptConfig): PromptPoint[] {
  const finite = points.filter((p) => Number.isFinite(p.value));
  const n = Math.max(1, config.smoothN);
  const smoothed: PromptPoint[] = [];
  for (let i = n - 1; i < finite.length; i++) {
    let sum = 0;
    for (let k = i - n + 1; k <= i; k++) {
      sum += finite[k]!.value;
    }
    smoothed.push({ t: finite[i]!.t, value: sum / n });
  }
  const rounded = config.rounding >= 0 ? smoothed.map((p) => ({ t: p.t, value: Number(p.value.toFixed(config.rounding)) })) : smoothed;
  return rounded.slice(Math.max(0, rounded.length - config.maxN));
}

export const DEFAULT_SYSTEM_PROMPT =
  'You are an expert time series analyst. You look at the recent values of one business or ' +
  'operations metric and say whether the newest values look anomalous: a statistical outlier, a ' +
  'break in trend, a level shift or a data-quality problem. Be conservative: ordinary noise and ' +
  'regular seasonality are not anomalies.';

const ANSWER_FORMAT =
  'Answer with one JSON object and nothing else: {"anomalous": true or false, "explanation": ' +
  '"<one or two sentences on why>"}.';

/** `[system, user]` messages for one metric's series. */
export function buildPrompt(series: readonly PromptPoint[], systemPrompt: string | null | undefined): { system: string; user: string } {
  const lines = series.map((p) => `${p.t.toISOString().slice(0, 19).replace('T', ' ')},${String(p.value)}`);
  return {
    system: `${systemPrompt?.trim() || DEFAULT_SYSTEM_PROMPT}\n\n${ANSWER_FORMAT}`,
    user:
      'Please analyze the following time series for anomalies.\n\nVariable name: metric_value\n\n' +
      `Time series (UTC, oldest first):\nmetric_timestamp,metric_value\n${lines.join('\n')}\n\n` +
      `Do the most recent values look anomalous? ${ANSWER_FORMAT}`,
  };
}

export const VERDICT_SCHEMA = z.object({
  anomalous: z.boolean(),
  explanation: z.string().trim().min(1).max(4000),
});

export type Verdict = z.output<typeof VERDICT_SCHEMA>;

/**
 * The model's answer was not the JSON asked for. Not retried: the same model and prompt answer
 * the same way; the job fails at once and says so (the failure notification carries it).
 */
export class LlmAnswerError extends InputError {
  override name = 'LlmAnswerError';
}

/** Reads the answer: JSON (optionally inside a ```json fence) matching {@link VERDICT_SCHEMA}. */
export function parseVerdict(content: string | null | undefined): Verdict {
  if (content === null || content === undefined || content.trim() === '') {
    throw new LlmAnswerError('the LLM gave an empty answer');
  }
  const unfenced = content.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/i, '$1');
  let json: unknown;
  try {
    json = JSON.parse(unfenced);
  } catch {
    throw new LlmAnswerError(`the LLM's answer is not JSON: ${JSON.stringify(content.slice(0, 200))}`);
  }
  const parsed = VERDICT_SCHEMA.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'answer'}: ${issue.message}`).join('; ');
    throw new LlmAnswerError(`the LLM's answer is not {anomalous, explanation}: ${issues}`);
  }
  return parsed.data;
}
