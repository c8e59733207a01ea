/**
 * Email and Slack settings from the environment, parsed once at start-up by loadEnv. Kept apart
 * from the senders so that reading them loads neither nodemailer nor the Slack client.
 */
/** Resolved SMTP settings. */
export interface EmailSettings {
  from: string;
  /** One or more recipients. */
  to: string[];
  host: string;
  port: number;
  /** SMTP user: the from address, as the original logs in with it. */
  user: string;
  /** Absent: no SMTP authentication. */
  password: string | undefined;
  /** Implicit TLS (port 465). Otherwise STARTTLS is used when the server offers it. */
  secure: boolean;
  /**
   * Refuse to send without TLS. True when a password is set and the host is not loopback, so
   * credentials never cross the network in clear; loopback test servers may be plain.
   */
  requireTls: boolean;
  /**
   * Connection, greeting and socket timeout.
   * @defaultValue 30000 (the original's 30 s)
   */
  timeoutMs: number;
}

const EMAIL_VARIABLES = [
  'ANOMSTACK_ALERT_EMAIL_FROM',
  'ANOMSTACK_ALERT_EMAIL_TO',
  'ANOMSTACK_ALERT_EMAIL_SMTP_HOST',
  'ANOMSTACK_ALERT_EMAIL_SMTP_PORT',
  'ANOMSTACK_ALERT_EMAIL_PASSWORD',
] as const;

const REQUIRED_VARIABLES = EMAIL_VARIABLES.filter((name) => name !== 'ANOMSTACK_ALERT_EMAIL_PASSWORD');

// A deliberately plain check: one @, no spaces, angle brackets, quotes, commas or control chars.
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const ADDRESS = /^[^\s@<>"',;\u0000-\u001f\u007f]+@[^\s@<>"',;\u0000-\u001f\u007f]+$/;

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Reads `ANOMSTACK_ALERT_EMAIL_*`. Returns null when none is set (email not configured); throws
 * an error naming the variable when some are set but one is missing or invalid.
 */
export function emailSettingsFromEnv(env: NodeJS.ProcessEnv): EmailSettings | null {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  if (EMAIL_VARIABLES.every((name) => value(name) === undefined)) {
    return null;
  }
  const missing = REQUIRED_VARIABLES.filter((name) => value(name) === undefined);
  if (missing.length > 0) {
    throw new Error(`email alerts are partly configured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set`);
  }

  const from = value('ANOMSTACK_ALERT_EMAIL_FROM') ?? '';
  if (!ADDRESS.test(from)) {
    throw new Error(`ANOMSTACK_ALERT_EMAIL_FROM: not an email address: ${JSON.stringify(from)}`);
  }
  const to = (value('ANOMSTACK_ALERT_EMAIL_TO') ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter((address) => address !== '');
  if (to.length === 0) {
    throw new Error('ANOMSTACK_ALERT_EMAIL_TO: no address in the list');
  }
  for (const address of to) {
    if (!ADDRESS.test(address)) {
      throw new Error(`ANOMSTACK_ALERT_EMAIL_TO: not an email address: ${JSON.stringify(address)}`);
    }
  }
  const host = value('ANOMSTACK_ALERT_EMAIL_SMTP_HOST') ?? '';
  if (/[\s/@]/.test(host)) {
    throw new Error(`ANOMSTACK_ALERT_EMAIL_SMTP_HOST: not a host name: ${JSON.stringify(host)}`);
  }
  const portText = value('ANOMSTACK_ALERT_EMAIL_SMTP_PORT') ?? '';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`ANOMSTACK_ALERT_EMAIL_SMTP_PORT: not a port number (1-65535): ${JSON.stringify(portText)}`);
  }
  // The password is not trimmed: spaces may be part of it.
  const rawPassword = env['ANOMSTACK_ALERT_EMAIL_PASSWORD'];
  const password = rawPassword === undefined || rawPassword === '' ? undefined : rawPassword;
  return {
    from,
    to,
    host,
    port,
    user: from,
    password,
    secure: port === 465,
    requireTls: password !== undefined && !isLoopbackHost(host),
    timeoutMs: 30_000,
  };
}

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

export interface SlackSettings {
  token: string;
  /** Channel ID (C…) or name without the leading `#`. */
  channel: string;
  /** Web API base URL, ending in `/`. */
  apiUrl: string;
  /**
   * Retries inside the Slack client; 0 leaves retrying to the job.
   * @defaultValue 0
   */
  retries: number;
  /**
   * Timeout of each HTTP request.
   * @defaultValue 30000
   */
  timeoutMs: number;
}

/**
 * Reads `ANOMSTACK_SLACK_BOT_TOKEN`, `ANOMSTACK_SLACK_CHANNEL` and `ANOMSTACK_SLACK_API_URL`.
 * Returns null when neither token nor channel is set; throws an error naming the variable when
 * one is missing or a value is invalid.
 */
export function slackSettingsFromEnv(env: NodeJS.ProcessEnv): SlackSettings | null {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const token = value('ANOMSTACK_SLACK_BOT_TOKEN');
  const channelValue = value('ANOMSTACK_SLACK_CHANNEL');
  if (token === undefined && channelValue === undefined) {
    return null;
  }
  if (token === undefined) {
    throw new Error('Slack alerts are partly configured: ANOMSTACK_SLACK_BOT_TOKEN is not set');
  }
  if (channelValue === undefined) {
    throw new Error('Slack alerts are partly configured: ANOMSTACK_SLACK_CHANNEL is not set');
  }
  if (/\s/.test(token)) {
    throw new Error('ANOMSTACK_SLACK_BOT_TOKEN: contains white space');
  }
  const channel = channelValue.replace(/^#/, '');
  if (channel === '' || /\s/.test(channel)) {
    throw new Error(`ANOMSTACK_SLACK_CHANNEL: not a channel name or id: ${JSON.stringify(channelValue)}`);
  }
  return {
    token,
    channel,
    apiUrl: normaliseApiUrl(value('ANOMSTACK_SLACK_API_URL') ?? DEFAULT_SLACK_API_URL),
    retries: 0,
    timeoutMs: 30_000,
  };
}

/** Checks an http(s) URL and gives it the trailing `/` the client needs to append method names. */
export function normaliseApiUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`ANOMSTACK_SLACK_API_URL: not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`ANOMSTACK_SLACK_API_URL: must be http or https: ${JSON.stringify(url)}`);
  }
  const text = parsed.toString();
  return text.endsWith('/') ? text : `${text}/`;
}

export interface WebhookSettings {
  /** Where every alert, failure and summary is POSTed as JSON. May hold a token: never logged whole. */
  url: string;
  /** With a secret, `X-Anomstack-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
  secret: string | null;
  /**
   * Timeout of one POST; a timeout fails the delivery and the job's retry sends it again.
   * @defaultValue 10000
   */
  timeoutMs: number;
}

/**
 * Reads `ANOMSTACK_WEBHOOK_URL`, `ANOMSTACK_WEBHOOK_SECRET` and `ANOMSTACK_WEBHOOK_TIMEOUT_MS`.
 * Null when the URL is not set; a secret or timeout without a URL is an error.
 */
export function webhookSettingsFromEnv(env: NodeJS.ProcessEnv): WebhookSettings | null {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const url = value('ANOMSTACK_WEBHOOK_URL');
  const secret = env['ANOMSTACK_WEBHOOK_SECRET'] === undefined || env['ANOMSTACK_WEBHOOK_SECRET'] === '' ? undefined : env['ANOMSTACK_WEBHOOK_SECRET'];
  const timeoutText = value('ANOMSTACK_WEBHOOK_TIMEOUT_MS');
  if (url === undefined) {
    if (secret !== undefined || timeoutText !== undefined) {
      throw new Error('the webhook is partly configured: ANOMSTACK_WEBHOOK_URL is not set');
    }
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('ANOMSTACK_WEBHOOK_URL: not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`ANOMSTACK_WEBHOOK_URL: must be http or https, got ${parsed.protocol}`);
  }
  const timeoutMs = timeoutText === undefined ? 10_000 : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new Error(`ANOMSTACK_WEBHOOK_TIMEOUT_MS: not a whole number of milliseconds >= 1: ${JSON.stringify(timeoutText)}`);
  }
  return { url: parsed.toString(), secret: secret ?? null, timeoutMs };
}
