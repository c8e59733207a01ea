-- A per-transaction staging table for bulk metric writes (COPY lands here, then one upsert).
create temp table if not exists anomstack_staging (
  metric_timestamp timestamptz not null,
  metric_batch text not null,
  metric_name text not null,
  metric_type text not null,
  metric_value double precision not null,
  metadata jsonb
) on commit delete rows;
