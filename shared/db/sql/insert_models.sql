-- Makes fitted models current, many in one statement: the rows are written last, after every
-- model file is complete, so a reader never sees a partial model. Params: $1 batch, then
-- parallel arrays: $2 metric names, $3 model tags, $4 versions, $5 model names, $6 n_train,
-- $7 model bytes (null entries when the files are under a local:// path).
insert into anomstack_models (metric_batch, metric_name, model_tag, version, model_name, n_train, model)
select $1, metric_name, model_tag, version, model_name, n_train, model
from unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::integer[], $7::bytea[])
  as m(metric_name, model_tag, version, model_name, n_train, model)
on conflict (metric_batch, metric_name, model_tag, version) do nothing;
