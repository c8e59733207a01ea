-- A batch's thumbs-up/down verdicts from $2 on, with the smoothed score of the `alert` row they
-- judge (its metadata, else the score row at that time); null when no `alert` row is there.
-- Reads the metrics table's index: (batch, type, timestamp) per verdict type, then point lookups.
-- Params: $1 metric_batch, $2 since (timestamptz), $3 metric names (null: all).
select f.metric_name, f.metric_timestamp, f.metric_type,
  case when a.metric_type is not null
    then coalesce((a.metadata->>'metric_score_smooth')::double precision, s.metric_value)
  end as score_smooth
from {{table}} f
left join {{table}} a
  on a.metric_batch = f.metric_batch and a.metric_type = 'alert'
  and a.metric_timestamp = f.metric_timestamp and a.metric_name = f.metric_name
left join {{table}} s
  on s.metric_batch = f.metric_batch and s.metric_type = 'score'
  and s.metric_timestamp = f.metric_timestamp and s.metric_name = f.metric_name
where f.metric_batch = $1
  and f.metric_type in ('thumbsup', 'thumbsdown')
  and f.metric_timestamp >= $2::timestamptz
  and ($3::text[] is null or f.metric_name = any($3::text[]))
order by f.metric_timestamp;
