-- The newest alert-type rows of some batches sharing {{table}}, with the metric's value at that
-- time, its thumbs-up/down feedback and the 48 values up to it (a sparkline).
-- Params: $1 batches (text[]), $2 types (text[]), $3 how many, $4 metric name (or null).
select a.metric_batch, a.metric_name, a.metric_type, a.metric_timestamp, a.metadata,
  (select avg(v.metric_value) from {{table}} v
    where v.metric_batch = a.metric_batch and v.metric_type = 'metric' and v.metric_timestamp = a.metric_timestamp and v.metric_name = a.metric_name) as metric_value,
  exists (select 1 from {{table}} f
    where f.metric_batch = a.metric_batch and f.metric_type = 'thumbsup' and f.metric_timestamp = a.metric_timestamp and f.metric_name = a.metric_name) as thumbsup,
  exists (select 1 from {{table}} f
    where f.metric_batch = a.metric_batch and f.metric_type = 'thumbsdown' and f.metric_timestamp = a.metric_timestamp and f.metric_name = a.metric_name) as thumbsdown,
  (select array_agg(s.metric_value order by s.metric_timestamp) from (
    select m.metric_timestamp, m.metric_value from {{table}} m
    where m.metric_batch = a.metric_batch and m.metric_type = 'metric' and m.metric_name = a.metric_name and m.metric_timestamp <= a.metric_timestamp
    order by m.metric_timestamp desc
    limit 48) s) as spark
from {{table}} a
where a.metric_batch = any($1::text[])
  and a.metric_type = any($2::text[])
  and ($4::text is null or a.metric_name = $4::text)
order by a.metric_timestamp desc, a.metric_batch, a.metric_name, a.metric_type
limit $3;
