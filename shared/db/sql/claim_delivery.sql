-- Records a delivery as pending (alert, change or threshold alert of one metric at one time, to
-- one channel) unless it is already recorded, pending or sent: recording twice changes nothing.
-- Params: $1 metric_batch, $2 metric_name, $3 metric_type, $4 metric_timestamp, $5 channel.
insert into anomstack_alert_deliveries (metric_batch, metric_name, metric_type, metric_timestamp, channel)
values ($1, $2, $3, $4, $5)
on conflict (metric_batch, metric_name, metric_type, metric_timestamp, channel) do nothing;
