-- A batch's card on the dashboard's home page, over the window since $2: metrics with values,
-- alert, change, threshold and thumbs-down rows, the mean score, and the newest value at all.
-- One pass over the window, grouped by (metric, type) first: a hash aggregate of a few groups per
-- metric, where count(distinct metric_name) sorted every row of the window (and spilled to disk
-- at 1000 metrics x 288 points, npm run bench -- dashboard).
-- Params: $1 metric_batch, $2 window start (timestamptz).
with per_metric as (
  select metric_name, metric_type, count(*) as n, sum(metric_value) as total
  from {{table}}
  where metric_batch = $1
    and metric_type in ('metric', 'score', 'alert', 'change', 'tholdalert', 'thumbsdown')
    and metric_timestamp >= $2::timestamptz
  group by metric_name, metric_type
)
select
  (select max(metric_timestamp) from {{table}} where metric_batch = $1 and metric_type = 'metric') as newest,
  count(*) filter (where metric_type = 'metric') as metrics,
  coalesce(sum(n) filter (where metric_type = 'alert'), 0) as alerts,
  coalesce(sum(n) filter (where metric_type = 'change'), 0) as changes,
  coalesce(sum(n) filter (where metric_type = 'tholdalert'), 0) as tholdalerts,
  coalesce(sum(n) filter (where metric_type = 'thumbsdown'), 0) as false_alarms,
  sum(total) filter (where metric_type = 'score') / nullif(sum(n) filter (where metric_type = 'score'), 0) as mean_score
from per_metric;
