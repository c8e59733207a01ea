-- Whether a batch has any ingested metric row in {{table}} (the scheduler's first ingest at start).
-- Params: $1 metric_batch.
select exists (select 1 from {{table}} where metric_batch = $1 and metric_type = 'metric') as found;
