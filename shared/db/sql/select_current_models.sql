-- The newest complete model of each (metric, tag) of a batch. Params: $1 batch.
select distinct on (metric_name, model_tag)
  metric_name, model_tag, version, model_name, n_train, trained_at, model
from anomstack_models
where metric_batch = $1
order by metric_name, model_tag, version desc;
