-- The staged rows of the given metric keys, in the order they were staged (anomstack_staging.ordinal).
-- Params: $1 metric names (text[]), $2 their timestamps (timestamptz[]), pairwise.
select s.metric_timestamp, s.metric_batch, s.metric_name, s.metric_type, s.metric_value, s.metadata, s.raw_value
from anomstack_staging s
join unnest($1::text[], $2::timestamptz[]) as k(metric_name, metric_timestamp)
  on s.metric_name = k.metric_name and s.metric_timestamp = k.metric_timestamp
order by s.ordinal;
