-- Drops the staged rows of the given metric keys.
-- Params: $1 metric names (text[]), $2 their timestamps (timestamptz[]), pairwise.
delete from anomstack_staging s
using unnest($1::text[], $2::timestamptz[]) as k(metric_name, metric_timestamp)
where s.metric_name = k.metric_name and s.metric_timestamp = k.metric_timestamp;
