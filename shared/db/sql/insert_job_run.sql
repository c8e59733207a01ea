-- Starts a job-run record. Params: $1 batch, $2 job, $3 detail (jsonb: queue, job id, slot).
insert into anomstack_job_runs (metric_batch, job, status, detail)
values ($1, $2, 'running', $3)
returning id;
