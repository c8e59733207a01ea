-- Scoring window for the score job: per metric, the newest {{score_max_n}} values plus
-- {{score_history_n}} older ones (the history that preprocessing needs), within
-- {{score_metric_timestamp_max_days_ago}} days, oldest first, with the score already written
-- for that point if there is one (the job scores only points whose metric_score is null).
-- Output columns: metric_timestamp, metric_name, metric_value, metric_score, metric_recency_rank.
-- Read per metric on the (batch, type, name, timestamp) index: the batch's metric names one index
-- step each, then each metric's newest values backwards from now, so the cost follows the rows
-- returned, not the days of history in the window. (metric_batch, metric_type, metric_timestamp,
-- metric_name) is unique, so each point has one value and at most one score.
with recursive names(metric_name) as (
  select min(metric_name) from {{{table_key}}}
  where metric_batch = {{param.metric_batch}} and metric_type = 'metric'
  union all
  select (
    select min(t.metric_name) from {{{table_key}}} t
    where t.metric_batch = {{param.metric_batch}} and t.metric_type = 'metric' and t.metric_name > names.metric_name
  )
  from names
  where names.metric_name is not null
)
select w.metric_timestamp, n.metric_name, w.metric_value, w.metric_score, w.metric_recency_rank
from names n
cross join lateral (
  select v.metric_timestamp, v.metric_value, s.metric_value as metric_score, v.metric_recency_rank
  from (
    select metric_timestamp, metric_value, row_number() over (order by metric_timestamp desc) as metric_recency_rank
    from {{{table_key}}}
    where metric_batch = {{param.metric_batch}}
      and metric_type = 'metric'
      and metric_name = n.metric_name
      and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{score_metric_timestamp_max_days_ago}}
      and metric_timestamp <= {{param.now}}::timestamptz
    order by metric_timestamp desc
    limit {{score_max_n}} + {{score_history_n}}
  ) v
  left join {{{table_key}}} s
    on s.metric_batch = {{param.metric_batch}} and s.metric_type = 'score'
    and s.metric_name = n.metric_name and s.metric_timestamp = v.metric_timestamp
) w
where n.metric_name is not null
  {{#score_exclude_metrics}}and n.metric_name <> all({{{score_exclude_metrics}}}){{/score_exclude_metrics}}
order by n.metric_name, w.metric_timestamp;
