/**
 * Alert channels built from the environment (`ANOMSTACK_ALERT_EMAIL_*`, `ANOMSTACK_SLACK_*`).
 * A method in `alert_methods` whose settings are absent is not configured: it is logged and
 * skipped, not an error. Settings that are partly there are an error (a typo should not turn
 * alerts off silently).
 */
import { firstTime, type Logger } from '../../../shared/logger.js';
import { createEmailSender, type EmailSender } from '../../../shared/alerts/email.js';
import type { AlertMessage, Notice } from '../../../shared/alerts/message.js';
import type { EmailSettings, SlackSettings, WebhookSettings } from '../../../shared/alerts/settings.js';
import { alertPayload, createWebhookSender, noticePayload } from '../../../shared/alerts/webhook.js';
import { createSlackSender, SlackDeliveryError, type SlackThread } from '../../../shared/alerts/slack.js';

export const CHANNEL_NAMES = ['email', 'slack', 'webhook'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** What a failed send leaves for the next attempt (Slack: the thread the message went to). */
export interface ResumeState {
  slackThread?: SlackThread;
}

/** One way of sending an alert. */
export interface AlertChannel {
  readonly name: ChannelName;
  /**
   * Sends one alert. `deliveryKey` identifies it (email derives a stable Message-ID from it);
   * `resume` is what an earlier failed attempt left. A failure that leaves resume state throws
   * a {@link ResumableError}.
   */
  send(message: AlertMessage, png: Buffer, deliveryKey: string, resume: ResumeState): Promise<void>;
  /** Sends a notice (a failed job, the daily summary): one message, no chart. */
  notice(notice: Notice, deliveryKey: string): Promise<void>;
}

/** A failed send that got part of the way (Slack message posted, chart upload failed). */
export class ResumableError extends Error {
  override readonly name = 'ResumableError';
  constructor(
    message: string,
    readonly resume: ResumeState,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Channels {
  /** The configured channel for a method, or null when its settings are absent. */
  get(name: ChannelName): AlertChannel | null;
  close(): Promise<void>;
}

/** The alert jobs' effects beyond the database. Tests pass their own. */
export interface AlertDeps {
  /** Builds the channels from the process settings; default: {@link createChannels}. */
  createChannels?: (settings: ChannelSettings, log: Logger) => Channels;
}

export const defaultAlertDeps: AlertDeps = {};

/** What the channels are built from: the `email`, `slack` and `webhook` of the process settings. */
export interface ChannelSettings {
  email: EmailSettings | null;
  slack: SlackSettings | null;
  webhook: WebhookSettings | null;
}

/** Email, Slack and webhook senders; any may be absent. */
export function createChannels({ email: emailSettings, slack: slackSettings, webhook: webhookSettings }: ChannelSettings): Channels {
  let email: EmailSender | null = null;
  const emailSender = (): EmailSender => {
    email ??= createEmailSender(emailSettings!);
    return email;
  };
  const channels = new Map<ChannelName, AlertChannel>();
  if (emailSettings !== null) {
    channels.set('email', {
      name: 'email',
      async send(message, png, deliveryKey) {
        await emailSender().send(message, png, deliveryKey);
      },
      async notice(notice, deliveryKey) {
        await emailSender().sendNotice(notice, deliveryKey);
      },
    });
  }
  if (slackSettings !== null) {
    const slack = createSlackSender(slackSettings);
    channels.set('slack', {
      name: 'slack',
      async send(message, png, _deliveryKey, resume) {
        try {
          await slack.send(message, png, resume.slackThread);
        } catch (error) {
          if (error instanceof SlackDeliveryError && error.thread !== undefined) {
            throw new ResumableError(error.message, { slackThread: error.thread }, { cause: error });
          }
          throw error;
        }
      },
      async notice(notice) {
        await slack.sendNotice(notice);
      },
    });
  }
  if (webhookSettings !== null) {
    const webhook = createWebhookSender(webhookSettings);
    channels.set('webhook', {
      name: 'webhook',
      async send(message, _png, deliveryKey) {
        await webhook.post(alertPayload(message, deliveryKey), deliveryKey);
      },
      async notice(notice, deliveryKey) {
        await webhook.post(noticePayload(notice, deliveryKey), deliveryKey);
      },
    });
  }
  return {
    get: (name) => channels.get(name) ?? null,
    async close() {
      await email?.close();
    },
  };
}

const CHANNEL_VARIABLES: Record<ChannelName, string> = {
  email: 'ANOMSTACK_ALERT_EMAIL_*',
  slack: 'ANOMSTACK_SLACK_*',
  webhook: 'ANOMSTACK_WEBHOOK_URL',
};

/**
 * The configured channels among `methods`, in the order given; the others are logged as not
 * configured and returned in `unconfigured`.
 */
export function selectChannels(
  channels: Channels,
  methods: readonly ChannelName[],
  log: Logger,
): { selected: AlertChannel[]; unconfigured: ChannelName[] } {
  const selected: AlertChannel[] = [];
  const unconfigured: ChannelName[] = [];
  for (const method of new Set(methods)) {
    const channel = channels.get(method);
    if (channel === null) {
      unconfigured.push(method);
      if (firstTime(`not configured: ${method}`)) {
        log.info({ channel: method }, `${method} alerts are not configured (no ${CHANNEL_VARIABLES[method]} settings); skipping ${method} (said once per process)`);
      }
    } else {
      selected.push(channel);
    }
  }
  return { selected, unconfigured };
}
