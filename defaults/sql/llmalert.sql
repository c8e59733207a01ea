-- Points for the llmalert job: per metric, the newest {{llmalert_prompt_max_n}} values within
-- {{llmalert_metric_timestamp_max_days_ago}} days, oldest first, with the score (when scored),
-- whether an llmalert row exists at that point and that row's metadata (its explanation).
-- Output columns: metric_timestamp, metric_name, metric_value, metric_score, metric_llmalert,
-- llmalert_metadata.
with data as (
  select metric_timestamp, metric_name,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    avg(metric_value) filter (where metric_type = 'score') as metric_score,
    coalesce(max(metric_value) filter (where metric_type = 'llmalert'), 0) as metric_llmalert,
    (array_agg(metadata) filter (where metric_type = 'llmalert'))[1] as llmalert_metadata
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type in ('metric', 'score', 'llmalert')
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{llmalert_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as metric_value_recency_rank
  from data
  where metric_value is not null
)
select metric_timestamp, metric_name, metric_value, metric_score, metric_llmalert, llmalert_metadata
from ranked
where metric_value_recency_rank <= {{llmalert_prompt_max_n}}
order by metric_name, metric_timestamp;
