-- Moves the staged rows into the metrics table {{table}}: a row with the same (batch, name,
-- type, timestamp) is replaced, and left alone when nothing changed, so re-runs write nothing.
insert into {{table}} (metric_timestamp, metric_batch, metric_name, metric_type, metric_value, metadata)
select metric_timestamp, metric_batch, metric_name, metric_type, metric_value, metadata
from anomstack_staging
on conflict (metric_batch, metric_name, metric_type, metric_timestamp) do update
  set metric_value = excluded.metric_value, metadata = excluded.metadata
  where ({{table}}.metric_value, {{table}}.metadata) is distinct from (excluded.metric_value, excluded.metadata);
