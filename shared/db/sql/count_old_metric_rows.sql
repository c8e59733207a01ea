-- How many rows of a batch in {{table}} are older than the retention (the delete job's dry run).
-- Params: $1 metric_batch, $2 now (timestamptz), $3 delete_after_n_days.
select count(*) as n
from {{table}}
where metric_batch = $1 and metric_timestamp < $2::timestamptz - interval '1 day' * $3;
