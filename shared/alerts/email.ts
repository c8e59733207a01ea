/**
 * Email alerts over SMTP (nodemailer): HTML + plain text + the chart PNG inline (cid) and as an
 * attachment, to several recipients. Unlike the original, `ANOMSTACK_ALERT_EMAIL_TO` is split
 * on commas (the original sent to the whole string as one address), and every header value
 * built from metric data is sanitised so a metric name cannot inject headers.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { SendMailOptions, Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { alertHtml, alertSubject, alertText, formatSummary } from './message.js';
import type { AlertMessage, Notice, SummaryItem } from './message.js';

import type { EmailSettings } from './settings.js';
import { DeliveryRejectedError, isPermanentSmtpReply } from './rejected.js';

// ---------------------------------------------------------------------------------------------
// Header safety.

/** Max length of a subject we send; longer ones are cut with an ellipsis. */
export const MAX_SUBJECT_LENGTH = 200;

/**
 * Makes a value safe for a single header line: control characters (CR, LF, NUL, ... and the
 * Unicode line/paragraph separators) become spaces, runs of white space collapse, and the
 * result is capped at `maxLength` characters.
 */
export function sanitizeHeaderValue(value: string, maxLength = MAX_SUBJECT_LENGTH): string {
  const flat = value
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length <= maxLength ? flat : `${flat.slice(0, maxLength - 1)}…`;
}

/** A file name from a metric name: letters, digits, `.`, `_` and `-` only. */
export function attachmentFileName(metric: string): string {
  const base = metric.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 100);
  return `${base === '' ? 'chart' : base}.png`;
}

/** Hex digest of a delivery key: the same key always gives the same id. */
export function deliveryDigest(deliveryKey: string): string {
  return createHash('sha256').update(deliveryKey).digest('hex').slice(0, 32);
}

function messageIdFor(deliveryKey: string, from: string): string {
  const domain = from.split('@')[1] ?? 'anomstack.invalid';
  return `<anomstack.${deliveryDigest(deliveryKey)}@${domain}>`;
}

// ---------------------------------------------------------------------------------------------
// Sender.

export interface EmailSender {
  /**
   * Sends one alert. With a `deliveryKey` (e.g. `batch|metric|alert|t|email`) the message gets
   * a stable Message-ID and an `X-Anomstack-Delivery` header derived from it, so a receiver can
   * drop a duplicate of a retried delivery.
   */
  send(message: AlertMessage, png: Buffer, deliveryKey?: string): Promise<{ messageId: string }>;
  /** Sends the daily summary of `items` since `since`. */
  sendSummary(items: SummaryItem[], since: Date, deliveryKey?: string): Promise<{ messageId: string }>;
  /** Sends a notice (a failed job): its subject, text and HTML, no attachment. */
  sendNotice(notice: Notice, deliveryKey?: string): Promise<{ messageId: string }>;
  /** Closes the transport's connections. */
  close(): Promise<void>;
}

export interface EmailSenderOptions {
  /** Replaces the SMTP transport (tests of the message shape); default: SMTP from settings. */
  transport?: Transporter<SMTPTransport.SentMessageInfo>;
}

const CHART_CID = 'chart@anomstack';

export function createEmailSender(settings: EmailSettings, options: EmailSenderOptions = {}): EmailSender {
  const transport =
    options.transport ??
    nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls,
      auth: settings.password === undefined ? undefined : { user: settings.user, pass: settings.password },
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
    });

  const from = sanitizeHeaderValue(settings.from, 254);
  const to = settings.to.map((address) => sanitizeHeaderValue(address, 254));

  async function sendMail(
    mail: Omit<SendMailOptions, 'from' | 'to'>,
    deliveryKey: string | undefined,
  ): Promise<{ messageId: string }> {
    const headers: Record<string, string> = { 'X-Mailer': 'anomstack' };
    if (deliveryKey !== undefined) {
      headers['X-Anomstack-Delivery'] = deliveryDigest(deliveryKey);
    }
    try {
      const info = await transport.sendMail({
        ...mail,
        from,
        to,
        headers,
        ...(deliveryKey === undefined ? {} : { messageId: messageIdFor(deliveryKey, from) }),
      });
      return { messageId: info.messageId };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const Failure = isPermanentSmtpReply((error as { responseCode?: unknown }).responseCode) ? DeliveryRejectedError : Error;
      throw new Failure(`email to ${to.join(', ')} via ${settings.host}:${settings.port} failed: ${reason}`, { cause: error });
    }
  }

  return {
    async send(message, png, deliveryKey) {
      const filename = attachmentFileName(message.metric);
      return sendMail(
        {
          subject: sanitizeHeaderValue(alertSubject(message)),
          text: alertText(message),
          html: alertHtml(message, { imageCid: CHART_CID }),
          attachments: [
            { filename, content: png, contentType: 'image/png', cid: CHART_CID, contentDisposition: 'inline' },
            { filename, content: png, contentType: 'image/png', contentDisposition: 'attachment' },
          ],
        },
        deliveryKey,
      );
    },
    async sendSummary(items, since, deliveryKey) {
      const summary = formatSummary(items, since);
      return sendMail({ subject: sanitizeHeaderValue(summary.subject), text: summary.text, html: summary.html }, deliveryKey);
    },
    async sendNotice(notice, deliveryKey) {
      return sendMail({ subject: sanitizeHeaderValue(notice.subject), text: notice.text, html: notice.html }, deliveryKey);
    },
    async close() {
      transport.close();
    },
  };
}
