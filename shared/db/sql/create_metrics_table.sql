-- A batch's metrics table (docs/contract.md, "Postgres"). {{table}} is the validated table_key; {{index}} a
-- name derived from it. Safe to run again.
-- The unique key is (batch, name, type, timestamp); its index leads with (batch, type,
-- timestamp) because every job reads a time window of one type across a batch's metrics, and
-- new rows then land at the index's right edge. It serves the upserts and the reads of a time window.
create table if not exists {{table}} (
  metric_timestamp timestamptz not null,
  metric_batch text not null,
  metric_name text not null,
  metric_type text not null,
  metric_value double precision not null,
  metadata jsonb,
  constraint {{index}}_key unique (metric_batch, metric_type, metric_timestamp, metric_name)
);
-- Per metric in time order: the score job reads each metric's newest points (defaults/sql/score.sql)
-- without sorting the batch's whole history. Built once on an existing table by the first migrate.
create index if not exists {{index}}_by_metric on {{table}} (metric_batch, metric_type, metric_name, metric_timestamp);
