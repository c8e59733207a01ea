-- Values for change detection: per metric, the newest {{change_max_n}} values within
-- {{change_metric_timestamp_max_days_ago}} days, oldest first, with whether a change row
-- exists at that point (for the snooze).
-- Output columns: metric_timestamp, metric_name, metric_value, metric_change.
with data as (
  select metric_timestamp, metric_name,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    coalesce(max(metric_value) filter (where metric_type = 'change'), 0) as metric_change
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type in ('metric', 'change')
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{change_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
    {{#change_include_metrics}}and metric_name = any({{{change_include_metrics}}}){{/change_include_metrics}}
    {{#change_exclude_metrics}}and metric_name <> all({{{change_exclude_metrics}}}){{/change_exclude_metrics}}
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as metric_value_recency_rank
  from data
  where metric_value is not null
)
select metric_timestamp, metric_name, metric_value, metric_change
from ranked
where metric_value_recency_rank <= {{change_max_n}}
order by metric_name, metric_timestamp;
