import { JOB_NAMES } from '../jobs.js';

/**
 * Every environment variable a process reads, with its default and meaning: the one list the
 * README table, `anomstack start --check` and docker-compose.yml are checked against (the
 * schema in env.ts must agree with it, test/settings.test.ts). Secrets are masked when shown.
 */
export interface Variable {
  /** The name; `<QUEUE>` stands for each queue (see `names`). */
  name: string;
  /** Also read under this name when the first is unset. */
  alias?: string;
  default: string;
  meaning: string;
  /** Shown as `***`; URLs keep everything but their password. */
  secret?: 'value' | 'url-password';
  /** Every concrete name this row covers. */
  names: readonly string[];
}

type Row = Omit<Variable, 'names'> & { names?: readonly string[] };

const ROWS: Row[] = [
  { name: 'ANOMSTACK_DATABASE_URL', alias: 'DATABASE_URL', default: 'postgres://postgres@127.0.0.1:5432/anomstack', meaning: 'the metrics store (Postgres URL)', secret: 'url-password' },
  { name: 'ANOMSTACK_REDIS_URL', alias: 'REDIS_URL', default: 'redis://127.0.0.1:6379', meaning: 'the queues (Redis URL)', secret: 'url-password' },
  { name: 'ANOMSTACK_METRICS_DIR', default: './metrics', meaning: 'where batch folders are looked for' },
  { name: 'ANOMSTACK_DEFAULTS_DIR', default: './defaults', meaning: '`defaults.yaml` and the SQL templates' },
  { name: 'ANOMSTACK_IGNORE_EXAMPLES', default: 'no', meaning: '`yes` skips `<metrics dir>/examples`' },
  { name: 'ANOMSTACK_PYTHON', default: 'the first of `python3`, `/usr/bin/python3` that imports pandas', meaning: 'the interpreter for Python ingest functions (it needs pandas; on Debian `apt-get install python3-pandas python3-requests`)' },
  { name: 'ANOMSTACK_ADMIN_TOKEN', default: 'none', meaning: 'bearer token of the admin API, Bull Board and dashboard password; `start api` refuses to run without it, or with one under 16 characters or a known placeholder, unless `ANOMSTACK_ADMIN_AUTH=off`', secret: 'value' },
  { name: 'ANOMSTACK_ADMIN_AUTH', default: 'on', meaning: '`off` turns API auth off (logs a warning; trusted networks only)' },
  { name: 'ANOMSTACK_API_PORT', default: '3000', meaning: 'the admin API port' },
  { name: 'ANOMSTACK_API_HOST', default: '127.0.0.1', meaning: 'the interface the admin API listens on (compose sets `0.0.0.0` inside its containers and publishes on the host\'s `127.0.0.1`)' },
  { name: 'ANOMSTACK_BULLBOARD_WRITE', default: 'no', meaning: '`yes` lets Bull Board add, retry, clean and empty jobs, pause queues and edit schedulers' },
  { name: 'ANOMSTACK_STATEMENT_TIMEOUT_S', default: '300', meaning: "Postgres cancels any statement of the jobs' own after this many seconds; ingest SQL has `ingest_timeout_s` instead" },
  { name: 'ANOMSTACK_PLOTS_DIR', default: './plots', meaning: 'where the plot job writes PNGs' },
  { name: 'ANOMSTACK_MIGRATE_ON_START', default: 'yes', meaning: '`anomstack start` creates or updates the schema first' },
  { name: 'ANOMSTACK_CHAIN_JOBS', default: 'yes', meaning: '`no`: jobs run on cron only, no ingest -> score -> alert chaining' },
  { name: 'ANOMSTACK_SCHEDULER_LOCK_MS', default: '15000', meaning: 'TTL of the scheduler leader lock (min 1000)' },
  { name: 'ANOMSTACK_QUEUE_PREFIX', default: 'anomstack', meaning: 'Redis key prefix of queues, locks and schedule sets' },
  { name: 'ANOMSTACK_LOG_LEVEL', default: 'info', meaning: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { name: 'ANOMSTACK_LOG_FORMAT', default: '`pretty` on a terminal, else `json`', meaning: '`pretty`: human-readable log lines; `json`: one JSON object per line (for log collectors)' },
  { name: 'ANOMSTACK_PROGRESS_EVERY_MS', default: '5000', meaning: 'long work (a train over 100 or more metrics, an ingest writing 10,000 or more rows, migrate, score-csv) logs a line at its start, one at most this often with the count done and the rate, and one at the end; `0` logs every step' },
  { name: 'ANOMSTACK_DB_POOL_MAX', default: '10', meaning: 'Postgres pool size per process, at least 2 (an ingest reads its SQL through a cursor on one connection while it writes on another)' },
  { name: 'ANOMSTACK_JOB_ATTEMPTS', default: '5', meaning: 'tries per job before a transient failure is final' },
  { name: 'ANOMSTACK_JOB_BACKOFF_MS', default: '2000', meaning: 'first retry delay, doubling each time' },
  { name: 'ANOMSTACK_WORKER_LOCK_MS', default: '30000', meaning: "how long before a dead worker's job runs again" },
  { name: 'ANOMSTACK_WORKER_CONCURRENCY', default: '1', meaning: 'jobs one worker process runs at once per queue' },
  {
    name: 'ANOMSTACK_WORKER_CONCURRENCY_<QUEUE>',
    default: '`ANOMSTACK_WORKER_CONCURRENCY`',
    meaning: `the same for one queue (${JOB_NAMES.join(', ')})`,
    names: JOB_NAMES.map((job) => `ANOMSTACK_WORKER_CONCURRENCY_${job.toUpperCase()}`),
  },
  { name: 'ANOMSTACK_ALERT_EMAIL_FROM', default: 'none', meaning: 'email alerts: sender (email is off when no `ANOMSTACK_ALERT_EMAIL_*` is set)' },
  { name: 'ANOMSTACK_ALERT_EMAIL_TO', default: 'none', meaning: 'email alerts: recipients, comma list' },
  { name: 'ANOMSTACK_ALERT_EMAIL_SMTP_HOST', default: 'none', meaning: 'email alerts: SMTP host' },
  { name: 'ANOMSTACK_ALERT_EMAIL_SMTP_PORT', default: 'none', meaning: 'email alerts: SMTP port (465 = implicit TLS)' },
  { name: 'ANOMSTACK_ALERT_EMAIL_PASSWORD', default: 'none', meaning: 'email alerts: SMTP password (TLS required unless the host is loopback)', secret: 'value' },
  { name: 'ANOMSTACK_SLACK_BOT_TOKEN', default: 'none', meaning: 'Slack alerts: bot token (goes with the channel)', secret: 'value' },
  { name: 'ANOMSTACK_SLACK_CHANNEL', default: 'none', meaning: 'Slack alerts: channel name or id' },
  { name: 'ANOMSTACK_SLACK_API_URL', default: 'https://slack.com/api/', meaning: 'Slack API base URL' },
  { name: 'ANOMSTACK_WEBHOOK_URL', default: 'none', meaning: 'webhook alerts (`alert_methods: "email,slack,webhook"`): the URL the JSON is POSTed to; body in docs/contract.md, "Webhook"', secret: 'value' },
  { name: 'ANOMSTACK_WEBHOOK_SECRET', default: 'none', meaning: 'webhook alerts: signs each body, `X-Anomstack-Signature: sha256=<HMAC>`', secret: 'value' },
  { name: 'ANOMSTACK_WEBHOOK_TIMEOUT_MS', default: '10000', meaning: 'webhook alerts: timeout of one POST' },
  { name: 'ANOMSTACK_LLM_BASE_URL', default: 'none', meaning: 'the llmalert job\'s OpenAI-compatible API (`.../v1`); with the key, turns the job\'s requests on' },
  { name: 'ANOMSTACK_LLM_API_KEY', default: 'none', meaning: 'the llmalert job\'s API key', secret: 'value' },
  { name: 'ANOMSTACK_LLM_MODEL', default: 'none', meaning: 'the model; replaces `llmalert_model` when set' },
  { name: 'ANOMSTACK_LLM_TIMEOUT_MS', default: '60000', meaning: 'timeout of one llmalert request' },
  { name: 'ANOMSTACK_FAILURE_NOTIFY', default: 'yes', meaning: 'a job that fails for the last time sends one message per batch, job and day (email, Slack, webhook as configured) with the reason and a link to the run' },
  { name: 'ANOMSTACK_BULLBOARD_URL', default: '`http://<API host>:<port>/admin/queues`', meaning: 'Bull Board\'s public address, for that link' },
  { name: 'ANOMSTACK_MODEL_PATH', default: 'local://./models', meaning: 'batch key override (any `ANOMSTACK_<KEY>` works): model store, `local://DIR` or `postgres://`' },
  { name: 'ANOMSTACK_CONFIG_MAX_FILE_BYTES', default: '1048576', meaning: 'largest batch YAML, `defaults.yaml` or included file; config files must be regular files whose real path is inside the metrics (or defaults) folder' },
  { name: 'ANOMSTACK_CONFIG_MAX_ALIASES', default: '100', meaning: 'YAML aliases (`*name` of a list or mapping) one document may re-use' },
  { name: 'ANOMSTACK_CONFIG_MAX_NODES', default: '100000', meaning: 'nodes of one parsed document with aliases expanded (64 bytes of string count one)' },
  { name: 'ANOMSTACK_CONFIG_MAX_INCLUDES', default: '100', meaning: '`{% include %}`s resolved for one file, nested ones counted' },
  { name: 'ANOMSTACK_CONFIG_MAX_INCLUDED_BYTES', default: '4194304', meaning: 'bytes all the includes of one file may bring in' },
];

export const VARIABLES: readonly Variable[] = ROWS.map((row) => ({ ...row, names: row.names ?? [row.name] }));

/** Every concrete variable name. */
export const VARIABLE_NAMES: readonly string[] = VARIABLES.flatMap((v) => v.names);

/** A value as it may be shown: secrets as `***`, URL passwords as `***`. */
export function maskValue(variable: Pick<Variable, 'secret'>, value: string): string {
  if (variable.secret === 'value') {
    return value === '' ? '' : '***';
  }
  if (variable.secret === 'url-password') {
    return value.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
  return value;
}
