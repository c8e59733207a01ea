-- The newest complete version of each (metric, tag) of a batch, without the model bytes: a
-- reader that keeps models in memory fetches only the versions it does not hold. Params: $1 batch.
select distinct on (metric_name, model_tag)
  metric_name, model_tag, version, model_name, n_train, trained_at
from anomstack_models
where metric_batch = $1
order by metric_name, model_tag, version desc;
