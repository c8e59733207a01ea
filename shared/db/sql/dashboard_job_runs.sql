-- Job-run records, newest first, each filter optional.
-- Params: $1 batch, $2 job, $3 status (each text or null), $4 limit, $5 offset.
select id, metric_batch, job, status, started_at, finished_at, rows_written, detail, error
from anomstack_job_runs
where ($1::text is null or metric_batch = $1::text)
  and ($2::text is null or job = $2::text)
  and ($3::text is null or status = $3::text)
order by started_at desc, id desc
limit $4 offset $5;
