-- Chart data for some metrics of a batch: per (metric, timestamp) the value, the score and the
-- flags and the expected band, oldest first, over a window start ($3) or the newest $4 points of each metric.
-- Params: $1 metric_batch, $2 metric names (text[]), $3 window start (or null), $4 points (or null).
with data as (
  select metric_name, metric_timestamp,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    avg(metric_value) filter (where metric_type = 'score') as metric_score,
    coalesce(max(metric_value) filter (where metric_type = 'alert'), 0) as metric_alert,
    coalesce(max(metric_value) filter (where metric_type = 'change'), 0) as metric_change,
    coalesce(max(metric_value) filter (where metric_type = 'tholdalert'), 0) as metric_tholdalert,
    coalesce(max(metric_value) filter (where metric_type = 'llmalert'), 0) as metric_llmalert,
    coalesce(max(metric_value) filter (where metric_type = 'thumbsup'), 0) as metric_thumbsup,
    coalesce(max(metric_value) filter (where metric_type = 'thumbsdown'), 0) as metric_thumbsdown,
    -- The detector's expected band (score metadata `band: {lo, hi}`, value units) where it gives one.
    max(case when jsonb_typeof(metadata->'band'->'lo') = 'number' then (metadata->'band'->>'lo')::double precision end)
      filter (where metric_type = 'score') as band_lo,
    max(case when jsonb_typeof(metadata->'band'->'hi') = 'number' then (metadata->'band'->>'hi')::double precision end)
      filter (where metric_type = 'score') as band_hi
  from {{table}}
  where metric_batch = $1
    and metric_name = any($2::text[])
    and ($3::timestamptz is null or metric_timestamp >= $3::timestamptz)
  group by metric_name, metric_timestamp
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as recency_rank
  from data
  where metric_value is not null
)
select metric_name, metric_timestamp, metric_value, metric_score, metric_alert, metric_change,
  metric_tholdalert, metric_llmalert, metric_thumbsup, metric_thumbsdown, band_lo, band_hi
from ranked
where $4::int is null or recency_rank <= $4::int
order by metric_name, metric_timestamp;
