-- Removes thumbs-up/down rows of one alert (changing or taking back a verdict).
-- Params: $1 metric_batch, $2 metric_name, $3 metric_timestamp, $4 types (text[]).
delete from {{table}}
where metric_batch = $1 and metric_name = $2 and metric_timestamp = $3::timestamptz
  and metric_type = any($4::text[]) and metric_type in ('thumbsup', 'thumbsdown');
