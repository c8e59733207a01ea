import type { MetricBatch } from '../config/metric-batch.js';
import { alertDetectConfig, type AlertDetectConfig } from '../detect/alert-detect.js';
import { earlyRetrainLimit, scoreWindowN } from '../models/early-retrain.js';
import type { ReplayPipeline } from '../nab/replay.js';

/** Everything a replay needs from a batch: what train, score, alert and ingest would do with it. */
export interface BacktestSettings {
  batch: string;
  pipeline: ReplayPipeline;
  /** The alert job's rule; every scored point is a candidate once (each alert run sees its newest point). */
  alert: AlertDetectConfig;
  /** `train_cron_schedule` (UTC): when the models are refitted. */
  trainCron: string;
  /** `ingest_metric_rounding`: values are stored rounded. */
  ingestRounding: number;
  /** `score_metric_rounding`: scores are stored (and compared with the threshold) rounded. */
  scoreRounding: number;
  /** Alerts are off for the batch (`disable_alert`): scores only. */
  alertsDisabled: boolean;
}

/**
 * A batch's settings for a replay, as if its train, score and alert schedules run (a user batch
 * starts STOPPED; a backtest asks what it would do once started). Throws when the batch would never
 * score (train or score disabled, or no train cron).
 */
export function backtestSettings(batch: MetricBatch): BacktestSettings {
  const { config } = batch;
  if (batch.disabled.train || batch.disabled.score) {
    throw new Error(`batch ${batch.name}: ${batch.disabled.train ? 'disable_train' : 'disable_score'} is set, so nothing would be scored`);
  }
  const trainCron = batch.schedules.train?.cron;
  if (trainCron === undefined) {
    throw new Error(`batch ${batch.name}: no train_cron_schedule`);
  }
  return {
    batch: batch.name,
    pipeline: {
      preprocess: config.preprocess_params,
      configs: config.model_configs,
      combination: config.model_combination_method,
      trainMaxN: config.train_max_n,
      trainMaxDays: config.train_metric_timestamp_max_days_ago,
      trainMinN: config.train_min_n,
      earlyRetrainN: earlyRetrainLimit(config),
      scoreWindowN: scoreWindowN(config),
    },
    alert: { ...alertDetectConfig(config), recentN: Infinity },
    trainCron,
    ingestRounding: config.ingest_metric_rounding,
    scoreRounding: config.score_metric_rounding,
    alertsDisabled: batch.disabled.alert,
  };
}
