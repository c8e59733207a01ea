-- Closes the rows an earlier attempt of the same queue job left `running` (its worker was killed
-- before it could finish them). Params: $1 batch, $2 job, $3 BullMQ job id, $4 id of the new run.
update anomstack_job_runs
set status = 'failed', finished_at = now(),
    error = 'abandoned: the worker stopped before the run finished (the job ran again as run ' || $4::bigint || ')'
where status = 'running' and metric_batch = $1 and job = $2 and detail->>'jobId' = $3 and id < $4::bigint;
