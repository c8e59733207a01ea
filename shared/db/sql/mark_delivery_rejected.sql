-- Marks a delivery the receiver refused for good (SMTP 5xx, HTTP 4xx): never sent again.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel, $6 last_error.
update anomstack_alert_deliveries
set status = 'rejected', attempts = attempts + 1, last_error = $6, resume = null
where metric_batch = $1 and metric_name = $2 and metric_type = $3 and metric_timestamp = $4 and channel = $5
  and status = 'pending';
