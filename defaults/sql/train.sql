-- Training window for the train job: per metric, the newest {{train_max_n}} values within
-- {{train_metric_timestamp_max_days_ago}} days of the run, oldest first. Duplicate timestamps
-- are averaged. Unlike the original, the newest points are not left out of training.
-- Output columns: metric_timestamp, metric_name, metric_value.
with data as (
  select metric_timestamp, metric_name, avg(metric_value) as metric_value
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type = 'metric'
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{train_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
    {{#train_exclude_metrics}}and metric_name <> all({{{train_exclude_metrics}}}){{/train_exclude_metrics}}
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as metric_recency_rank
  from data
)
select metric_timestamp, metric_name, metric_value
from ranked
where metric_recency_rank <= {{train_max_n}}
order by metric_name, metric_timestamp;
