-- Which alert-type rows a metric has at one time (what a thumbs-up/down judges).
-- Params: $1 metric_batch, $2 metric_name, $3 metric_timestamp.
select metric_type
from {{table}}
where metric_batch = $1 and metric_name = $2 and metric_timestamp = $3::timestamptz
  and metric_type in ('alert', 'change', 'tholdalert', 'llmalert');
