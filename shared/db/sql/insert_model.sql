-- Makes a fitted model current: the row is written last, after any model file is complete, so
-- a reader never sees a partial model. Params: $1 batch, $2 metric, $3 model_tag, $4 version,
-- $5 model_name, $6 n_train, $7 model bytes (null when the file is under a local:// path).
insert into anomstack_models (metric_batch, metric_name, model_tag, version, model_name, n_train, model)
values ($1, $2, $3, $4, $5, $6, $7)
on conflict (metric_batch, metric_name, model_tag, version) do nothing;
