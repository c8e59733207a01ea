-- A batch's deliveries of one metric_type not yet sent, oldest first.
-- Params: $1 metric_batch, $2 metric_type.
select metric_name, metric_timestamp, channel, attempts, last_error
from anomstack_alert_deliveries
where metric_batch = $1 and metric_type = $2 and status = 'pending'
order by metric_timestamp, metric_name, channel;
