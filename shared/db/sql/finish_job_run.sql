-- Closes a job-run record. Params: $1 id, $2 status (ok, skipped, failed), $3 rows written,
-- $4 detail (jsonb, merged into what is there), $5 error text.
update anomstack_job_runs
set status = $2, finished_at = now(), rows_written = $3, detail = coalesce(detail, '{}'::jsonb) || coalesce($4, '{}'::jsonb), error = $5
where id = $1;
