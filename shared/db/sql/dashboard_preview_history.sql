-- The Preview page's history: the newest $3 points (duplicates averaged) of each of the first $4
-- metrics by name of a batch, those matching the regex $2 (or all), oldest first.
-- Params: $1 metric_batch, $2 name regex (or null), $3 points per metric, $4 metrics.
with names as (
  select distinct metric_name
  from {{table}}
  where metric_batch = $1 and metric_type = 'metric' and ($2::text is null or metric_name ~ $2::text)
  order by metric_name
  limit $4::int
), data as (
  select metric_name, metric_timestamp, avg(metric_value) as metric_value
  from {{table}}
  where metric_batch = $1 and metric_type = 'metric' and metric_name in (select metric_name from names)
  group by metric_name, metric_timestamp
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as recency_rank
  from data
)
select metric_name, metric_timestamp, metric_value
from ranked
where recency_rank <= $3::int
order by metric_name, metric_timestamp;
