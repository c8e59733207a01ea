-- A batch's metrics table (CONTRACT.md). {{table}} is the validated table_key; {{index}} a
-- name derived from it. Safe to run again.
create table if not exists {{table}} (
  metric_timestamp timestamptz not null,
  metric_batch text not null,
  metric_name text not null,
  metric_type text not null,
  metric_value double precision not null,
  metadata jsonb,
  constraint {{index}}_key unique (metric_batch, metric_name, metric_type, metric_timestamp)
);
create index if not exists {{index}}_batch_type_ts on {{table}} (metric_batch, metric_type, metric_timestamp);
