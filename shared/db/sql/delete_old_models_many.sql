-- Drops all but the newest $4 versions of each named (metric, tag) of batch $1 and returns what
-- went, so the caller can remove their files. Params: $1 batch, $2 metric names, $3 model tags
-- (parallel arrays), $4 keep.
delete from anomstack_models m
using (
  select k.metric_name, k.model_tag, v.version
  from unnest($2::text[], $3::text[]) as k(metric_name, model_tag)
  cross join lateral (
    select a.version from anomstack_models a
    where a.metric_batch = $1 and a.metric_name = k.metric_name and a.model_tag = k.model_tag
    order by a.version desc offset $4
  ) v
) old
where m.metric_batch = $1 and m.metric_name = old.metric_name and m.model_tag = old.model_tag and m.version = old.version
returning m.metric_name, m.model_tag, m.version;
