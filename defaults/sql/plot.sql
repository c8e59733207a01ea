-- Points for the plot job and the dashboard: per metric, the newest {{alert_max_n}} values
-- within {{alert_metric_timestamp_max_days_ago}} days, oldest first, with score and flags.
-- Output columns: metric_timestamp, metric_name, metric_value, metric_score, metric_alert,
-- metric_change, metric_tholdalert, and optionally score_metadata (the score row's metadata: the
-- chart shades its expected range `band`).
with data as (
  select metric_timestamp, metric_name,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    avg(metric_value) filter (where metric_type = 'score') as metric_score,
    coalesce(max(metric_value) filter (where metric_type = 'alert'), 0) as metric_alert,
    coalesce(max(metric_value) filter (where metric_type = 'change'), 0) as metric_change,
    coalesce(max(metric_value) filter (where metric_type = 'tholdalert'), 0) as metric_tholdalert,
    (array_agg(metadata) filter (where metric_type = 'score'))[1] as score_metadata
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type in ('metric', 'score', 'alert', 'change', 'tholdalert')
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{alert_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as metric_value_recency_rank
  from data
  where metric_value is not null
)
select metric_timestamp, metric_name, metric_value, metric_score, metric_alert, metric_change, metric_tholdalert, score_metadata
from ranked
where metric_value_recency_rank <= {{alert_max_n}}
order by metric_name, metric_timestamp;
