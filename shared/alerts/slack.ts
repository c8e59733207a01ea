/**
 * Slack alerts with a bot token (@slack/web-api): the facts as blocks with chat.postMessage,
 * then the chart PNG into that message's thread with files.uploadV2 (getUploadURLExternal,
 * POST of the bytes, completeUploadExternal). Unlike the original, errors are thrown, not
 * logged and dropped, so the job's retry sends again what was not sent.
 */
import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import type { Logger } from '@slack/web-api';
import { attachmentFileName } from './email.js';
import { alertSlackBlocks, alertSlackText, formatTimestamp, type SlackBlock } from './message.js';
import type { AlertMessage, Notice } from './message.js';

import { normaliseApiUrl, type SlackSettings } from './settings.js';
import { DeliveryRejectedError } from './rejected.js';

/** Where the message already went, to upload the chart without posting the message again. */
export interface SlackThread {
  ts: string;
  channelId: string;
}

export interface SlackSender {
  /**
   * Posts the alert, then its chart in the thread; resolves to the message's `ts`. With
   * `thread` (from a {@link SlackDeliveryError} of an earlier try) only the chart is uploaded.
   */
  send(message: AlertMessage, png: Buffer, thread?: SlackThread): Promise<{ ts: string }>;
  /** Posts a notice (a failed job, the summary) as one message, without a file. */
  sendNotice(notice: Notice): Promise<{ ts: string }>;
}

/** A failed send; `thread` is set when the message was posted and only the chart upload failed. */
export class SlackDeliveryError extends Error {
  override readonly name = 'SlackDeliveryError';
  constructor(
    message: string,
    readonly stage: 'post' | 'upload',
    readonly thread: SlackThread | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SlackSenderOptions {
  /** Where the client's own logs go; default: errors only, to stderr. */
  logger?: Logger;
}

// The client's messages name the Slack error code ("An API error occurred: channel_not_found")
// or the HTTP status; a request error keeps the underlying cause in `original`.
function describe(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const original = (error as { original?: unknown }).original;
  return original instanceof Error && !error.message.includes(original.message)
    ? `${error.message} (${original.message})`
    : error.message;
}

/**
 * Slack's answers that no retry can change (the channel, the token or the message itself is
 * wrong), as opposed to rate limits, outages and timeouts. Only the post is judged: an upload
 * failure after it resumes in the thread.
 */
const PERMANENT_SLACK_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'restricted_action',
  'msg_too_long',
  'invalid_blocks',
]);

function isPermanentSlackError(error: unknown): boolean {
  const { code, data } = error as { code?: unknown; data?: { error?: unknown } };
  return code === ErrorCode.PlatformError && typeof data?.error === 'string' && PERMANENT_SLACK_ERRORS.has(data.error);
}

export function createSlackSender(settings: SlackSettings, options: SlackSenderOptions = {}): SlackSender {
  const client = new WebClient(settings.token, {
    slackApiUrl: normaliseApiUrl(settings.apiUrl),
    retryConfig: { retries: settings.retries },
    timeout: settings.timeoutMs,
    // A 429 fails the call at once; the job's retry (with its back-off) takes it from there.
    rejectRateLimitedCalls: true,
    ...(options.logger === undefined ? { logLevel: LogLevel.ERROR } : { logger: options.logger }),
  });

  async function post(message: AlertMessage, where: string): Promise<SlackThread> {
    return postBlocks(alertSlackText(message), alertSlackBlocks(message), where);
  }

  async function postBlocks(text: string, blocks: SlackBlock[], where: string): Promise<SlackThread> {
    let posted;
    try {
      posted = await client.chat.postMessage({
        channel: settings.channel,
        text,
        blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (error) {
      const text = `Slack chat.postMessage to ${where} failed: ${describe(error)}`;
      if (isPermanentSlackError(error)) {
        throw new DeliveryRejectedError(text, { cause: error });
      }
      throw new SlackDeliveryError(text, 'post', undefined, { cause: error });
    }
    const ts = posted.ts;
    // The upload needs the channel's id; chat.postMessage answers with it even when given a name.
    const channelId = posted.channel;
    if (typeof ts !== 'string' || typeof channelId !== 'string') {
      throw new SlackDeliveryError(`Slack chat.postMessage to ${where} answered without ts or channel`, 'post', undefined);
    }
    return { ts, channelId };
  }

  return {
    async sendNotice(notice) {
      const { ts } = await postBlocks(notice.subject.slice(0, 3000), notice.slackBlocks, `Slack channel ${settings.channel} via ${settings.apiUrl}`);
      return { ts };
    },
    async send(message, png, thread) {
      const where = `Slack channel ${settings.channel} via ${settings.apiUrl}`;
      const { ts, channelId } = thread ?? (await post(message, where));
      const filename = attachmentFileName(message.metric);
      try {
        await client.files.uploadV2({
          channel_id: channelId,
          thread_ts: ts,
          file: png,
          filename,
          title: `${message.metric} at ${formatTimestamp(message.timestamp)}`,
        });
      } catch (error) {
        throw new SlackDeliveryError(
          `Slack files.uploadV2 of ${filename} to ${where} (thread ${ts}) failed: ${describe(error)}`,
          'upload',
          { ts, channelId },
          { cause: error },
        );
      }
      return { ts };
    },
  };
}
