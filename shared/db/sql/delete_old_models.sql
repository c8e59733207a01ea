-- Drops all but the newest $4 versions of one (batch, metric, tag) and returns what went, so
-- the caller can remove their files. Params: $1 batch, $2 metric, $3 model_tag, $4 keep.
delete from anomstack_models m
where m.metric_batch = $1 and m.metric_name = $2 and m.model_tag = $3
  and m.version < (
    select min(version) from (
      select version from anomstack_models
      where metric_batch = $1 and metric_name = $2 and model_tag = $3
      order by version desc limit $4
    ) newest
  )
returning m.version;
