-- Starts a job-run record. Params: $1 batch, $2 job, $3 detail (jsonb: queue, job id, slot).
-- In the same statement, so no reader ever sees both rows `running`: a queue job that runs again
-- after its worker was killed (a stalled job taken over, or a retry) closes the rows the dead
-- attempt left `running` (the update's snapshot does not include the new row).
with run as (
  insert into anomstack_job_runs (metric_batch, job, status, detail)
  values ($1, $2, 'running', $3::jsonb)
  returning id
), abandoned as (
  update anomstack_job_runs
  set status = 'failed', finished_at = now(),
      error = 'abandoned: the worker stopped before the run finished (the job ran again as run ' || (select id from run) || ')'
  where status = 'running' and metric_batch = $1 and job = $2
    and $3::jsonb ->> 'jobId' is not null and detail ->> 'jobId' = $3::jsonb ->> 'jobId'
)
select id from run;
