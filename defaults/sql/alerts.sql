-- Scored points for the alert job: per metric, the newest {{alert_window_n}} scored values
-- within {{alert_metric_timestamp_max_days_ago}} days, oldest first, with whether an alert,
-- change or threshold-alert row exists at that point. Smoothing, snooze and the threshold are
-- applied by the job (docs/behaviour.md, "Alerts": the intended semantics, not the original's frames).
-- Output columns: metric_timestamp, metric_name, metric_value, metric_score, metric_alert,
-- metric_change, metric_tholdalert, and optionally score_metadata (the score row's metadata: its
-- expected range `band` is what the alert message shows).
-- Read per metric on the (batch, type, name, timestamp) index, as score.sql: the batch's scored
-- metric names one index step each, then each metric's newest scores backwards from now, so the
-- cost follows the rows returned, not the days in the window. Alert, change and threshold-alert
-- rows are few; they are read for the whole window. (metric_batch, metric_type,
-- metric_timestamp, metric_name) is unique, so each point has at most one row of each type.
with recursive names(metric_name) as (
  select min(metric_name) from {{{table_key}}}
  where metric_batch = {{param.metric_batch}} and metric_type = 'score'
  union all
  select (
    select min(t.metric_name) from {{{table_key}}} t
    where t.metric_batch = {{param.metric_batch}} and t.metric_type = 'score' and t.metric_name > names.metric_name
  )
  from names
  where names.metric_name is not null
), flags as (
  select metric_timestamp, metric_name, metric_type, metric_value
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type in ('alert', 'change', 'tholdalert')
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{alert_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
)
select w.metric_timestamp, n.metric_name, w.metric_value, w.metric_score,
  coalesce(a.metric_value, 0) as metric_alert,
  coalesce(c.metric_value, 0) as metric_change,
  coalesce(h.metric_value, 0) as metric_tholdalert,
  w.score_metadata
from names n
cross join lateral (
  select s.metric_timestamp, m.metric_value, s.metric_value as metric_score, s.metadata as score_metadata
  from {{{table_key}}} s
  join {{{table_key}}} m
    on m.metric_batch = {{param.metric_batch}} and m.metric_type = 'metric'
    and m.metric_name = n.metric_name and m.metric_timestamp = s.metric_timestamp
  where s.metric_batch = {{param.metric_batch}}
    and s.metric_type = 'score'
    and s.metric_name = n.metric_name
    and s.metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{alert_metric_timestamp_max_days_ago}}
    and s.metric_timestamp <= {{param.now}}::timestamptz
  order by s.metric_timestamp desc
  limit {{alert_window_n}}
) w
left join flags a on a.metric_type = 'alert' and a.metric_name = n.metric_name and a.metric_timestamp = w.metric_timestamp
left join flags c on c.metric_type = 'change' and c.metric_name = n.metric_name and c.metric_timestamp = w.metric_timestamp
left join flags h on h.metric_type = 'tholdalert' and h.metric_name = n.metric_name and h.metric_timestamp = w.metric_timestamp
where n.metric_name is not null
  {{#alert_exclude_metrics}}and n.metric_name <> all({{{alert_exclude_metrics}}}){{/alert_exclude_metrics}}
order by n.metric_name, w.metric_timestamp;
