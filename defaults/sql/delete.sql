-- Retention for the delete job: removes up to {{delete_chunk_n}} rows of the batch older than
-- {{delete_after_n_days}} days per statement; the job repeats it until nothing is left, so a
-- large purge never holds one long lock.
with doomed as (
  select ctid
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_timestamp < {{param.now}}::timestamptz - interval '1 day' * {{delete_after_n_days}}
  limit {{delete_chunk_n}}
)
delete from {{{table_key}}}
where ctid in (select ctid from doomed);
