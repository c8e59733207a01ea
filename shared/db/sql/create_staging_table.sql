-- A per-transaction staging table for bulk metric writes (COPY lands here, then one upsert).
-- ordinal and raw_value are set by a streamed write (stageMetricRows): the order rows were
-- staged in and the value before rounding, for averaging duplicate keys once all are staged.
create temp table if not exists anomstack_staging (
  metric_timestamp timestamptz not null,
  metric_batch text not null,
  metric_name text not null,
  metric_type text not null,
  metric_value double precision not null,
  metadata jsonb,
  ordinal bigint,
  raw_value double precision
) on commit delete rows;
