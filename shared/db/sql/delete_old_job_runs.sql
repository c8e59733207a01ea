-- Retention for the job-run records of a batch, with its metric rows (the delete job).
-- Params: $1 metric_batch, $2 now (timestamptz), $3 delete_after_n_days.
delete from anomstack_job_runs
where metric_batch = $1 and started_at < $2::timestamptz - interval '1 day' * $3;
