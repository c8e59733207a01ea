-- Scoring window for the score job: per metric, the newest {{score_max_n}} values plus
-- {{score_history_n}} older ones (the history that preprocessing needs), within
-- {{score_metric_timestamp_max_days_ago}} days, oldest first, with the score already written
-- for that point if there is one (the job scores only points whose metric_score is null).
-- Output columns: metric_timestamp, metric_name, metric_value, metric_score, metric_recency_rank.
with data as (
  select metric_timestamp, metric_name,
    avg(metric_value) filter (where metric_type = 'metric') as metric_value,
    avg(metric_value) filter (where metric_type = 'score') as metric_score
  from {{{table_key}}}
  where metric_batch = {{param.metric_batch}}
    and metric_type in ('metric', 'score')
    and metric_timestamp >= {{param.now}}::timestamptz - interval '1 day' * {{score_metric_timestamp_max_days_ago}}
    and metric_timestamp <= {{param.now}}::timestamptz
    {{#score_exclude_metrics}}and metric_name <> all({{{score_exclude_metrics}}}){{/score_exclude_metrics}}
  group by metric_timestamp, metric_name
), ranked as (
  select *, row_number() over (partition by metric_name order by metric_timestamp desc) as metric_recency_rank
  from data
  where metric_value is not null
)
select metric_timestamp, metric_name, metric_value, metric_score, metric_recency_rank
from ranked
where metric_recency_rank <= {{score_max_n}} + {{score_history_n}}
order by metric_name, metric_timestamp;
