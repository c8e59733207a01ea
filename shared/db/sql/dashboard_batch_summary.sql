-- A batch's card on the dashboard's home page, over the window since $2: metrics with values,
-- alert, change, threshold and thumbs-down rows, the mean score, and the newest value at all.
-- Params: $1 metric_batch, $2 window start (timestamptz).
select
  (select max(metric_timestamp) from {{table}} where metric_batch = $1 and metric_type = 'metric') as newest,
  count(distinct metric_name) filter (where metric_type = 'metric') as metrics,
  count(*) filter (where metric_type = 'alert') as alerts,
  count(*) filter (where metric_type = 'change') as changes,
  count(*) filter (where metric_type = 'tholdalert') as tholdalerts,
  count(*) filter (where metric_type = 'thumbsdown') as false_alarms,
  avg(metric_value) filter (where metric_type = 'score') as mean_score
from {{table}}
where metric_batch = $1
  and metric_type in ('metric', 'score', 'alert', 'change', 'tholdalert', 'thumbsdown')
  and metric_timestamp >= $2::timestamptz;
