import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertPayload, createWebhookSender } from '../shared/alerts/webhook.js';
import { conformalAlertMessage, pcaKnnAlertMessage, sampleAlertMessage } from './support/alert-message.js';
import { startWebhookStub, type WebhookStub } from './support/webhook-stub.js';

describe('webhook alert payload', () => {
  let hook: WebhookStub;

  beforeAll(async () => {
    hook = await startWebhookStub();
  });

  afterAll(async () => {
    await hook.close();
  });

  beforeEach(() => {
    hook.reset();
  });

  async function post(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    await createWebhookSender({ url: hook.url, secret: null, timeoutMs: 5_000 }).post(payload, 'b|m|alert|t|webhook');
    const [request] = await hook.waitFor(1);
    return request!.json.alert as Record<string, unknown>;
  }

  it('carries why as data: the expected range, the detector that fired, every model and the tail probability', async () => {
    const alert = await post(alertPayload(conformalAlertMessage(), 'b|m|alert|t|webhook'));
    expect(alert.why).toEqual({
      expected: { lo: 48.5, hi: 51.25 },
      fired: ['conformal_default'],
      models: [{ tag: 'conformal_default', model: 'Conformal', score: 0.999953, calibrated: true }],
      tail_probability: expect.closeTo(0.000047, 12) as unknown,
      text: {
        why: 'value 91.25 is above the expected range 48.5 to 51.25; score 0.999953 >= threshold 0.999',
        detector: 'conformal_default (Conformal) 0.999953',
        unusual: "about 1 in 21,000 of this metric's training points look this unusual (Conformal's estimate, 1 - score)",
      },
    });
  });

  it('has nulls, not guesses, where the original models give no range and no rate', async () => {
    const alert = await post(alertPayload(pcaKnnAlertMessage(), 'b|m|alert|t|webhook'));
    expect(alert.why).toMatchObject({ expected: null, fired: ['knn'], tail_probability: null, text: { why: null } });
    expect((alert.why as { models: unknown[] }).models).toHaveLength(2);
    // Without model scores (a user's alert_sql without score_metadata) the lists are empty.
    hook.reset();
    const bare = await post(alertPayload(sampleAlertMessage(), 'b|m|alert|t|webhook'));
    expect(bare.why).toEqual({ expected: null, fired: [], models: [], tail_probability: null, text: { why: null, detector: null, unusual: null } });
  });

  it('has no why for other kinds of alert', async () => {
    const alert = await post(alertPayload(sampleAlertMessage({ kind: 'threshold', threshold: null }), 'b|m|tholdalert|t|webhook'));
    expect(alert).not.toHaveProperty('why');
  });
});
