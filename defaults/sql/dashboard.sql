-- One row per metric of the batch for an overview: latest value and score, alerts in the
-- window. Metrics with no value in {{dashboard_stale_metric_max_days_ago}} days are left out.
-- Output columns: metric_name, metric_timestamp_max, metric_value_latest, metric_score_latest,
-- n_alert, n_change.
select
  metric_name,
  max(metric_timestamp) filter (where metric_type = 'metric') as metric_timestamp_max,
  (array_agg(metric_value order by metric_timestamp desc) filter (where metric_type = 'metric'))[1] as metric_value_latest,
  (array_agg(metric_value order by metric_timestamp desc) filter (where metric_type = 'score'))[1] as metric_score_latest,
  count(*) filter (where metric_type = 'alert') as n_alert,
  count(*) filter (where metric_type = 'change') as n_change
from {{{table_key}}}
where metric_batch = {{param.metric_batch}}
  and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{alert_metric_timestamp_max_days_ago}}
group by metric_name
having max(metric_timestamp) filter (where metric_type = 'metric')
  >= {{param.now}}::timestamptz - interval '1 day' * {{dashboard_stale_metric_max_days_ago}}
order by metric_name;
