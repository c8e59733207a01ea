/**
 * The llmalert job: per metric, the newest `llmalert_prompt_max_n` values (llmalert_sql) go to
 * an OpenAI-compatible chat API, which answers `{anomalous, explanation}` (llm-prompt.ts). A
 * yes writes an `llmalert` row at the metric's newest point, with the explanation in its
 * metadata, and one message per configured channel through the same exactly-once ledger as the
 * other alerts (notify.ts). Off unless `disable_llmalert: false` and `ANOMSTACK_LLM_BASE_URL` /
 * `_API_KEY` are set; without them, and in a dry run, nothing is sent anywhere.
 *
 * A metric whose newest point already has an llmalert row is not asked again. A transient LLM
 * failure (429, 5xx, timeout) stops the asking, keeps what was answered, and fails the job so
 * the queue retries it; a malformed answer or a refused request fails it at once (InputError).
 */
import type { AlertMessage } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { InputError } from '../../../shared/errors.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { LlmSettings } from '../../../shared/llm/settings.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { renderSql } from '../../../shared/templates.js';
import { defaultAlertDeps, type AlertDeps } from './channels.js';
import { createLlmClient, type LlmClient } from './llm-client.js';
import { buildPrompt, LlmAnswerError, parseVerdict, promptSeries } from './llm-prompt.js';
import { notify } from './notify.js';
import { groupByMetric, lastN, sameTime } from './window.js';

interface LlmWindowRow {
  metric_timestamp: Date;
  metric_name: string;
  metric_value: number;
  metric_score: number | null;
  metric_llmalert: number;
  llmalert_metadata: Record<string, unknown> | null;
}

export interface LlmalertDeps extends AlertDeps {
  /** The chat client; default: the `openai` package on the settings' base URL. */
  createLlmClient?: (settings: LlmSettings) => LlmClient;
}

/** ANOMSTACK_LLM_MODEL when set, else the batch's llmalert_model. */
export const llmModel = (batch: MetricBatch, settings: LlmSettings): string => settings.model ?? batch.config.llmalert_model;

export function createLlmalertBatch(deps: LlmalertDeps = defaultAlertDeps): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.llmalert) {
      return skipped(batch, 'llmalert', 'LLM alerts are disabled (disable_llmalert)');
    }
    const settings = context.env.llm;
    if (settings === null) {
      context.log.info('LLM alerts are not configured (no ANOMSTACK_LLM_* settings); nothing is sent');
      return skipped(batch, 'llmalert', 'the LLM is not configured (ANOMSTACK_LLM_BASE_URL, ANOMSTACK_LLM_API_KEY)');
    }
    const model = llmModel(batch, settings);
    const config = batch.config;
    const rows = await context.db.query<LlmWindowRow>(renderSql(batch, 'llmalert_sql', { now: context.now }));
    const byMetric = groupByMetric(rows);

    const client = (deps.createLlmClient ?? createLlmClient)(settings);
    const newRows: MetricRow[] = [];
    const explanations = new Map<string, string>();
    const asked: { metric: string; anomalous: boolean }[] = [];
    const notAsked: Record<string, string> = {};
    const malformed: { metric: string; error: string }[] = [];
    let stop: Error | null = null;
    for (const [metricName, metricRows] of byMetric) {
      const newest = metricRows[metricRows.length - 1]!;
      if (stop !== null) {
        notAsked[metricName] = 'not asked: an earlier request failed';
        continue;
      }
      if (newest.metric_llmalert > 0) {
        notAsked[metricName] = 'its newest point already has an llmalert';
        continue;
      }
      const series = promptSeries(
        metricRows.map((row) => ({ t: row.metric_timestamp, value: row.metric_value })),
        { smoothN: config.llmalert_smooth_n, rounding: config.llmalert_metric_rounding, maxN: config.llmalert_prompt_max_n },
      );
      if (series.length < 2) {
        notAsked[metricName] = `${series.length} point(s) to send; at least 2 are needed`;
        continue;
      }
      if (context.dryRun) {
        notAsked[metricName] = 'dry run: would ask';
        continue;
      }
      const prompt = buildPrompt(
        series,
        config.llmalert_anomaly_agent_detection_prompt ?? config.llmalert_anomaly_agent_system_prompt,
      );
      let verdict;
      try {
        verdict = parseVerdict(await client.complete({ model, ...prompt }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof LlmAnswerError) {
          malformed.push({ metric: metricName, error: message });
          continue;
        }
        // Rate limited, down, or refusing us: asking about the other metrics would fare the same.
        stop = error instanceof Error ? error : new Error(message);
        notAsked[metricName] = `request failed: ${message}`;
        continue;
      }
      asked.push({ metric: metricName, anomalous: verdict.anomalous });
      if (verdict.anomalous) {
        explanations.set(metricName, verdict.explanation);
        newest.metric_llmalert = 1;
        newRows.push({
          metric_timestamp: newest.metric_timestamp,
          metric_batch: batch.name,
          metric_name: metricName,
          metric_type: 'llmalert',
          metric_value: 1,
          metadata: { anomaly_explanation: verdict.explanation, llmalert_model: model },
        });
      }
    }

    const buildMessage = (metricName: string, timestamp: Date): AlertMessage | null => {
      const data = byMetric.get(metricName);
      const index = data?.findIndex((row) => sameTime(row.metric_timestamp, timestamp)) ?? -1;
      if (data === undefined || index < 0) {
        return null;
      }
      const row = data[index]!;
      const stored = row.llmalert_metadata?.anomaly_explanation;
      const explanation = explanations.get(metricName) ?? (typeof stored === 'string' ? stored : 'no explanation stored');
      const points = data.map((r) => ({
        t: r.metric_timestamp,
        value: r.metric_value,
        score: r.metric_score,
        scoreSmooth: r.metric_score,
        alert: r.metric_llmalert > 0,
        change: false,
      }));
      return {
        kind: 'llm',
        batch: batch.name,
        metric: metricName,
        timestamp: row.metric_timestamp,
        value: row.metric_value,
        score: row.metric_score,
        scoreSmooth: null,
        threshold: null,
        tags: { ...config.metric_tags[metricName] },
        details: { model: String(row.llmalert_metadata?.llmalert_model ?? model) },
        explanation,
        points: lastN(points, config.alert_max_n),
      };
    };

    const result = await notify(batch, context, deps, {
      job: 'llmalert',
      metricType: 'llmalert',
      methods: config.alert_methods,
      rows: newRows,
      notify: newRows.map((row) => ({ metricName: row.metric_name, timestamp: row.metric_timestamp })),
      buildMessage,
      chartThreshold: () => null,
      details: { model, metrics: byMetric.size, asked, notAsked, malformed },
    });
    if (stop !== null) {
      // Transient ones are retried with backoff; a refused request (bad key, unknown model) is not.
      throw stop instanceof InputError ? stop : new Error(`${batch.name} llmalert: ${stop.message} (${result.rows} llmalert row(s) written before it)`, { cause: stop });
    }
    if (malformed.length > 0) {
      throw new InputError(
        `${batch.name} llmalert: ${malformed.length} malformed answer(s) from ${model}: ${malformed.map((m) => `${m.metric}: ${m.error}`).join('; ')}`,
      );
    }
    return result;
  };
}

export const llmalertBatch: JobCore = createLlmalertBatch();
