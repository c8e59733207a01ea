-- One job-run record. Params: $1 id.
select id, metric_batch, job, status, started_at, finished_at, rows_written, detail, error
from anomstack_job_runs
where id = $1;
