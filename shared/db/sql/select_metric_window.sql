-- The newest points of some metrics of a batch in {{table}}, oldest first, with their score and
-- flags and the tholdalert row's metadata: the threshold-alert job's window (and the ingest's
-- snooze context). Params: $1 metric_batch, $2 metric names (text[]), $3 now (timestamptz),
-- $4 lookback in days, $5 points per metric.
with data as (
  select metric_timestamp, metric_name,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    avg(metric_value) filter (where metric_type = 'score') as metric_score,
    coalesce(max(metric_value) filter (where metric_type = 'alert'), 0) as metric_alert,
    coalesce(max(metric_value) filter (where metric_type = 'change'), 0) as metric_change,
    coalesce(max(metric_value) filter (where metric_type = 'tholdalert'), 0) as metric_tholdalert,
    (array_agg(metadata) filter (where metric_type = 'tholdalert'))[1] as tholdalert_metadata
  from {{table}}
  where metric_batch = $1
    and metric_name = any($2::text[])
    and metric_type in ('metric', 'score', 'alert', 'change', 'tholdalert')
    and metric_timestamp >= $3::timestamptz - interval '1 day' * $4
    and metric_timestamp <= $3::timestamptz
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as recency_rank
  from data
  where metric_value is not null
)
select metric_timestamp, metric_name, metric_value, metric_score, metric_alert, metric_change, metric_tholdalert,
  tholdalert_metadata
from ranked
where recency_rank <= $5
order by metric_name, metric_timestamp;
