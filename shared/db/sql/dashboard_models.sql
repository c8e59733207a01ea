-- The stored model versions of one metric. Params: $1 metric_batch, $2 metric_name.
select model_tag, model_name, version, trained_at, n_train
from anomstack_models
where metric_batch = $1 and metric_name = $2
order by model_tag, version desc;
