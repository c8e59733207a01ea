-- The stored bytes of the named model versions of a batch (model_path postgres://). Params: $1
-- batch, $2 metric names, $3 model tags, $4 versions (parallel arrays, one entry per model).
select m.metric_name, m.model_tag, m.version, m.model
from anomstack_models m
join unnest($2::text[], $3::text[], $4::bigint[]) as wanted(metric_name, model_tag, version)
  using (metric_name, model_tag, version)
where m.metric_batch = $1;
