-- The project's own tables: fitted models, job runs and alert deliveries. Safe to run again.
create table if not exists anomstack_models (
  metric_batch text not null,
  metric_name text not null,
  model_tag text not null,
  version bigint not null,
  model_name text not null,
  trained_at timestamptz not null default now(),
  n_train integer not null,
  -- Null when the model file lives under a local:// model path.
  model bytea,
  primary key (metric_batch, metric_name, model_tag, version)
);

create table if not exists anomstack_job_runs (
  id bigserial primary key,
  metric_batch text not null,
  job text not null,
  status text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  rows_written integer not null default 0,
  detail jsonb,
  error text
);
create index if not exists anomstack_job_runs_batch_job on anomstack_job_runs (metric_batch, job, started_at desc);
-- Few rows are running at a time: finding a killed worker's leftovers stays cheap.
create index if not exists anomstack_job_runs_running on anomstack_job_runs (metric_batch, job) where status = 'running';

create table if not exists anomstack_alert_deliveries (
  metric_batch text not null,
  metric_name text not null,
  metric_type text not null,
  metric_timestamp timestamptz not null,
  channel text not null,
  status text not null default 'pending' check (status in ('pending', 'sent', 'rejected')),
  attempts integer not null default 0,
  last_error text,
  -- What a retry needs to finish a half-done send (the Slack thread a message went to).
  resume jsonb,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  primary key (metric_batch, metric_name, metric_type, metric_timestamp, channel)
);
-- Tables made before `rejected` existed carry the two-state check: widen it once.
do $$
begin
  if not exists (
    select 1 from pg_constraint
    where conrelid = 'anomstack_alert_deliveries'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%rejected%'
  ) then
    alter table anomstack_alert_deliveries drop constraint if exists anomstack_alert_deliveries_status_check;
    alter table anomstack_alert_deliveries add constraint anomstack_alert_deliveries_status_check check (status in ('pending', 'sent', 'rejected'));
  end if;
end
$$;
