-- Records a failed attempt of a delivery; it stays pending, for the job's retry.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel,
-- $6 last_error, $7 resume (jsonb: what the next attempt needs to finish, or null).
update anomstack_alert_deliveries
set attempts = attempts + 1, last_error = $6, resume = $7
where metric_batch = $1 and metric_name = $2 and metric_type = $3 and metric_timestamp = $4 and channel = $5
  and status = 'pending';
