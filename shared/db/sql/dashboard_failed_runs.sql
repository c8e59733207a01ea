-- Per batch, the failed runs since $1: how many, and the newest one with its reason.
-- Params: $1 since (timestamptz).
select distinct on (metric_batch) id, metric_batch, job, started_at, error,
  count(*) over (partition by metric_batch) as failures
from anomstack_job_runs
where status = 'failed' and started_at >= $1::timestamptz
order by metric_batch, started_at desc, id desc;
