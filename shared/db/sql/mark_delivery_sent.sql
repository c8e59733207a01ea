-- Marks a delivery sent, counting the attempt.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel.
update anomstack_alert_deliveries
set status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = null
where metric_batch = $1 and metric_name = $2 and metric_type = $3 and metric_timestamp = $4 and channel = $5;
