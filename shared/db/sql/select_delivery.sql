-- One delivery's state, or no row when it was never recorded.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel.
select status, attempts, last_error, sent_at
from anomstack_alert_deliveries
where metric_batch = $1 and metric_name = $2 and metric_type = $3 and metric_timestamp = $4 and channel = $5;
