-- Daily-shaped traffic with noise: a sine over the day plus a small random term, one value
-- per run; the first run backfills two days at 15-minute steps.
with slots as (
  select generate_series(
    case when exists (select 1 from {{{table_key}}} where metric_batch = {{param.metric_batch}})
      then date_trunc('minute', {{param.now}}::timestamptz)
      else date_trunc('minute', {{param.now}}::timestamptz) - interval '48 hours' end,
    date_trunc('minute', {{param.now}}::timestamptz),
    interval '15 minutes') as metric_timestamp
)
select
  metric_timestamp,
  'sql_file_visits' as metric_name,
  round((100 + 40 * sin(extract(epoch from metric_timestamp) / 86400 * 2 * pi()) + 5 * random())::numeric, 2) as metric_value
from slots
