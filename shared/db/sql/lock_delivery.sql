-- Takes one delivery for sending, inside the sender's transaction: no row when another sender
-- holds it (skip locked), so two runs of a job never send the same delivery at once.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel.
select status, attempts, last_error, resume
from anomstack_alert_deliveries
where metric_batch = $1 and metric_name = $2 and metric_type = $3 and metric_timestamp = $4 and channel = $5
for update skip locked;
