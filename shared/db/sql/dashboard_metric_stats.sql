-- Per metric of a batch, over a window: points, alert/change/threshold rows, the mean score and
-- the anomaly rate ((alerts + changes + threshold alerts) / points), highest rate first. The
-- window is either a start time ($2) or the newest $4 points of each metric (or both).
-- Params: $1 metric_batch, $2 window start (timestamptz or null), $3 name regex (or null),
-- $4 points per metric (or null).
with rows_in as (
  select metric_name, metric_type, metric_timestamp, metric_value
  from {{table}}
  where metric_batch = $1
    and metric_type in ('metric', 'score', 'alert', 'change', 'tholdalert')
    and ($2::timestamptz is null or metric_timestamp >= $2::timestamptz)
    and ($3::text is null or metric_name ~ $3::text)
), ranked as (
  select metric_name, metric_timestamp,
    row_number() over (partition by metric_name order by metric_timestamp desc) as recency_rank
  from rows_in
  where metric_type = 'metric'
), cut as (
  select metric_name, min(metric_timestamp) as since, max(metric_timestamp) as newest, count(*) as points
  from ranked
  where $4::int is null or recency_rank <= $4::int
  group by metric_name
)
select c.metric_name, c.points, c.newest,
  count(*) filter (where r.metric_type = 'alert') as alerts,
  count(*) filter (where r.metric_type = 'change') as changes,
  count(*) filter (where r.metric_type = 'tholdalert') as tholdalerts,
  avg(r.metric_value) filter (where r.metric_type = 'score') as mean_score,
  (count(*) filter (where r.metric_type in ('alert', 'change', 'tholdalert')))::float8 / c.points as anomaly_rate
from cut c
join rows_in r on r.metric_name = c.metric_name and r.metric_timestamp >= c.since
group by c.metric_name, c.points, c.newest
order by anomaly_rate desc, c.metric_name;
