-- Alerts, changes and threshold alerts of the batch in the last
-- {{summary_metric_timestamp_max_days_ago}} days, newest first, for the daily summary email.
-- Output columns: metric_timestamp, metric_batch, metric_name, metric_type, metric_value.
select t.metric_timestamp, t.metric_batch, t.metric_name, t.metric_type, v.metric_value
from {{{table_key}}} t
left join lateral (
  select avg(m.metric_value) as metric_value
  from {{{table_key}}} m
  where m.metric_batch = t.metric_batch and m.metric_name = t.metric_name
    and m.metric_type = 'metric' and m.metric_timestamp = t.metric_timestamp
) v on true
where t.metric_batch = {{param.metric_batch}}
  and t.metric_type in ('alert', 'change', 'tholdalert')
  and t.metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{summary_metric_timestamp_max_days_ago}}
order by t.metric_timestamp desc, t.metric_name;
