/**
 * The generic webhook channel: every alert, failure notice and summary is POSTed to one URL as
 * JSON (PagerDuty, Teams, Discord or anything that takes JSON, usually through a small relay).
 * Headers: `Content-Type: application/json`, `X-Anomstack-Delivery` (a digest of the delivery
 * key: the same delivery always has the same id, so a receiver can drop a retried duplicate),
 * and with a secret `X-Anomstack-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`.
 * Any answer but 2xx, a timeout or a refused connection fails the delivery; the job's retry
 * sends it again. The URL may carry a token, so errors name only its origin.
 */
import { createHmac } from 'node:crypto';
import { deliveryDigest } from './email.js';
import { alertSubject, alertText, firedModels, formatDetector, formatUnusual, formatWhy, tailProbability, type AlertMessage, type Notice } from './message.js';
import type { WebhookSettings } from './settings.js';
import { DeliveryRejectedError, isPermanentHttpStatus } from './rejected.js';

/** `sha256=<hex>`: the signature header's value for a body. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The JSON body of an alert (docs/contract.md, "Webhook"). */
export function alertPayload(message: AlertMessage, deliveryKey: string): Record<string, unknown> {
  return {
    type: 'alert',
    delivery: deliveryDigest(deliveryKey),
    subject: alertSubject(message),
    text: alertText(message),
    alert: {
      kind: message.kind,
      batch: message.batch,
      metric: message.metric,
      timestamp: message.timestamp.toISOString(),
      value: Number.isFinite(message.value) ? message.value : null,
      score: message.score,
      score_smooth: message.scoreSmooth,
      threshold: message.threshold,
      tags: message.tags,
      details: message.details,
      ...(message.explanation === undefined ? {} : { explanation: message.explanation }),
      ...(message.kind === 'anomaly' ? { why: whyPayload(message) } : {}),
    },
  };
}

/** An anomaly's why (docs/contract.md, "Webhook"): the facts behind the message's Why lines, as data. */
function whyPayload(message: AlertMessage): Record<string, unknown> {
  return {
    expected: message.expected ?? null,
    fired: firedModels(message).map((m) => m.tag),
    models: (message.models ?? []).map((m) => ({ tag: m.tag, model: m.model, score: m.score, calibrated: m.calibrated })),
    tail_probability: tailProbability(message),
    text: { why: formatWhy(message), detector: formatDetector(message), unusual: formatUnusual(message) },
  };
}

export function noticePayload(notice: Notice, deliveryKey: string): Record<string, unknown> {
  return { type: notice.type, delivery: deliveryDigest(deliveryKey), subject: notice.subject, text: notice.text, [notice.type]: notice.payload };
}

export interface WebhookSender {
  post(payload: Record<string, unknown>, deliveryKey: string): Promise<void>;
}

export function createWebhookSender(settings: WebhookSettings): WebhookSender {
  const where = `webhook ${new URL(settings.url).origin}`;
  return {
    async post(payload, deliveryKey) {
      const body = JSON.stringify(payload);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'anomstack',
        'x-anomstack-delivery': deliveryDigest(deliveryKey),
      };
      if (settings.secret !== null) {
        headers['x-anomstack-signature'] = webhookSignature(settings.secret, body);
      }
      let response: Response;
      try {
        response = await fetch(settings.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(settings.timeoutMs), redirect: 'error' });
      } catch (error) {
        const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        throw new Error(timedOut ? `${where} timed out after ${settings.timeoutMs} ms` : `${where} failed: ${(error as Error).message}`, { cause: error });
      }
      // Drain the body so the connection is released.
      const answer = await response.text().catch(() => '');
      if (!response.ok) {
        const Failure = isPermanentHttpStatus(response.status) ? DeliveryRejectedError : Error;
        throw new Failure(`${where} answered ${response.status}${answer ? `: ${answer.slice(0, 200)}` : ''}`);
      }
    },
  };
}
