-- The newest model version of a batch (0 when it has none): a train's version must be above it,
-- even when the train's clock (`--now`) is not. Params: $1 batch.
select coalesce(max(version), 0)::bigint as version
from anomstack_models
where metric_batch = $1;
