import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderAlertChart } from '../shared/alerts/chart.js';
import { alertSlackBlocks } from '../shared/alerts/message.js';
import { DEFAULT_SLACK_API_URL, slackSettingsFromEnv, type SlackSettings } from '../shared/alerts/settings.js';
import { createSlackSender, SlackDeliveryError } from '../shared/alerts/slack.js';
import { startSlackStub } from './support/slack-stub.js';
import type { SlackStub } from './support/slack-stub.js';
import { conformalAlertMessage, pcaKnnAlertMessage, sampleAlertMessage, spikePoints } from './support/alert-message.js';
import { DeliveryRejectedError } from '../shared/alerts/rejected.js';


const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('slackSettingsFromEnv', () => {
  it('is null when nothing is set and defaults the API URL', () => {
    expect(slackSettingsFromEnv({})).toBeNull();
    expect(slackSettingsFromEnv({ ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-1', ANOMSTACK_SLACK_CHANNEL: '#alerts' })).toMatchObject({
      token: 'xoxb-1',
      channel: 'alerts',
      apiUrl: DEFAULT_SLACK_API_URL,
      retries: 0,
    });
  });

  it('adds the trailing slash the client needs', () => {
    const settings = slackSettingsFromEnv({
      ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-1',
      ANOMSTACK_SLACK_CHANNEL: 'C123',
      ANOMSTACK_SLACK_API_URL: 'http://127.0.0.1:9999/api',
    });
    expect(settings?.apiUrl).toBe('http://127.0.0.1:9999/api/');
  });

  it('names the variable that is missing or invalid', () => {
    expect(() => slackSettingsFromEnv({ ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(/ANOMSTACK_SLACK_CHANNEL is not set/);
    expect(() => slackSettingsFromEnv({ ANOMSTACK_SLACK_CHANNEL: 'alerts' })).toThrow(/ANOMSTACK_SLACK_BOT_TOKEN is not set/);
    expect(() =>
      slackSettingsFromEnv({ ANOMSTACK_SLACK_BOT_TOKEN: 'x', ANOMSTACK_SLACK_CHANNEL: 'a', ANOMSTACK_SLACK_API_URL: 'ftp://x/' }),
    ).toThrow(/ANOMSTACK_SLACK_API_URL/);
    expect(() =>
      slackSettingsFromEnv({ ANOMSTACK_SLACK_BOT_TOKEN: 'x', ANOMSTACK_SLACK_CHANNEL: 'a', ANOMSTACK_SLACK_API_URL: 'not a url' }),
    ).toThrow(/ANOMSTACK_SLACK_API_URL/);
  });
});

describe('alertSlackBlocks', () => {
  it('escapes metric data for mrkdwn and keeps Slack limits', () => {
    const blocks = alertSlackBlocks(sampleAlertMessage({ metric: `<!channel> & ${'x'.repeat(300)}` }));
    // mrkdwn would turn <!channel> into a mention; the header is plain_text, shown as written.
    const json = JSON.stringify(blocks.filter((block) => block.type !== 'header'));
    expect(json).not.toContain('<!channel>');
    expect(json).toContain('&lt;!channel&gt; &amp;');
    const header = blocks[0];
    expect(header?.type).toBe('header');
    expect(header?.type === 'header' ? header.text.text.length : 0).toBeLessThanOrEqual(150);
  });
});

describe('Slack sender', () => {
  let slack: SlackStub;
  let settings: SlackSettings;
  let png: Buffer;

  beforeAll(async () => {
    slack = await startSlackStub({ token: 'xoxb-test', channelId: 'C0ALERTS' });
    png = await renderAlertChart({ title: '[batch_one] cpu_usage anomaly', threshold: 0.8, points: spikePoints(20) });
  });

  afterAll(async () => {
    await slack.close();
  });

  beforeEach(() => {
    slack.reset();
    const fromEnv = slackSettingsFromEnv({
      ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-test',
      ANOMSTACK_SLACK_CHANNEL: '#alerts',
      ANOMSTACK_SLACK_API_URL: slack.url,
    });
    if (fromEnv === null) {
      throw new Error('settings expected');
    }
    settings = { ...fromEnv, timeoutMs: 5_000 };
  });

  it('says why, which detector fired and how unusual, with the score to 6 significant digits', async () => {
    await createSlackSender(settings).send(conformalAlertMessage(), png);
    const blocks = slack.messages.at(-1)?.blocks as { type: string; text?: { text: string }; fields?: { text: string }[] }[];
    // The sentences as full-width sections, the detector as a field.
    const sections = blocks.flatMap((block) => (block.type === 'section' && block.text ? [block.text.text] : []));
    const fields = blocks.flatMap((block) => block.fields?.map((field) => field.text) ?? []);
    expect(sections).toContain('*Why*\nvalue 91.25 is above the expected range 48.5 to 51.25; score 0.999953 &gt;= threshold 0.999');
    expect(sections).toContain("*How unusual*\nabout 1 in 21,000 of this metric's training points look this unusual (Conformal's estimate, 1 - score)");
    expect(fields).toContain('*Detector*\nconformal_default (Conformal) 0.999953');
    expect(fields.length).toBeLessThanOrEqual(10);
  });

  it('reads well without an expected range (PCA + KNN): no Why, the detector and its scale', async () => {
    await createSlackSender(settings).send(pcaKnnAlertMessage(), png);
    const json = JSON.stringify(slack.messages.at(-1)?.blocks);
    expect(json).not.toContain('*Why*');
    expect(json).not.toContain('1 in ');
    expect(json).toContain('*Detector*\\nknn (KNN) 0.9731, the highest of 2 models (pca 0.8477)');
    expect(json).toContain("*How unusual*\\nscore 0.9731 on KNN's 0-1 scale, where 1 is the most unusual point it was trained on (not a rate)");
    // No model scores at all (a user's alert_sql without score_metadata): neither line.
    await createSlackSender(settings).send(sampleAlertMessage(), png);
    const bare = JSON.stringify(slack.messages.at(-1)?.blocks);
    expect(bare).not.toContain('*Detector*');
    expect(bare).not.toContain('*How unusual*');
  });

  it('posts the blocks and uploads the PNG into the same thread', async () => {
    // When
    const { ts } = await createSlackSender(settings).send(sampleAlertMessage(), png);

    // Then: the message
    expect(slack.messages).toHaveLength(1);
    const message = slack.messages[0];
    expect(message?.ts).toBe(ts);
    expect(message?.token).toBe('xoxb-test');
    expect(message?.text).toBe('[batch_one] cpu_usage anomaly');
    const blocks = JSON.stringify(message?.blocks);
    for (const fact of ['[batch_one] cpu_usage anomaly', '*Batch*', 'batch_one', '*Metric*', 'cpu_usage', '91.25', '0.9731', '0.9104 &gt;= threshold 0.8', '2026-11-24 03:00:00 UTC', 'team=infra']) {
      expect(blocks).toContain(fact);
    }

    // Then: the file, in the message's thread, in the channel the message went to
    expect(slack.calls.map((call) => call.method)).toEqual([
      'chat.postMessage',
      'files.getUploadURLExternal',
      'upload',
      'files.completeUploadExternal',
    ]);
    expect(slack.uploads).toHaveLength(1);
    expect(slack.uploads[0]?.equals(png)).toBe(true);
    expect(slack.uploads[0]?.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(slack.files[0]).toMatchObject({ channel_id: 'C0ALERTS', thread_ts: ts, filename: 'cpu_usage.png' });
  });

  it('rejects with a clear error when Slack is down, without retrying inside the client', async () => {
    slack.setDown(true);
    const started = Date.now();
    const sending = createSlackSender(settings).send(sampleAlertMessage(), png);
    await expect(sending).rejects.toThrow(/Slack chat\.postMessage to Slack channel alerts via http:\/\/127\.0\.0\.1:\d+\/api\/ failed: .*503/);
    await expect(sending).rejects.toBeInstanceOf(SlackDeliveryError);
    // An outage is retried: not a refusal.
    await expect(sending).rejects.not.toBeInstanceOf(DeliveryRejectedError);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(slack.calls).toHaveLength(0);
  });

  it('rejects on a Slack API error such as a bad token, as a refusal for good (the delivery is marked rejected)', async () => {
    const sending = createSlackSender({ ...settings, token: 'xoxb-wrong' }).send(sampleAlertMessage(), png);
    await expect(sending).rejects.toThrow(/invalid_auth/);
    await expect(sending).rejects.toBeInstanceOf(DeliveryRejectedError);
  });

  it('rejects when nothing listens', async () => {
    const gone = await startSlackStub();
    const url = gone.url;
    await gone.close();
    await expect(createSlackSender({ ...settings, apiUrl: url }).send(sampleAlertMessage(), png)).rejects.toThrow(/Slack chat\.postMessage .* failed/);
  });

  it('reports the thread when only the upload failed, and can finish the upload there', async () => {
    // Given: the message goes through, the upload URL request fails
    const sender = createSlackSender(settings);
    slack.failNext(1, 500, 'files.getUploadURLExternal');
    const error = await sender.send(sampleAlertMessage(), png).catch((caught: unknown) => caught);

    // Then
    expect(error).toBeInstanceOf(SlackDeliveryError);
    const failure = error as SlackDeliveryError;
    expect(failure.stage).toBe('upload');
    expect(failure.thread?.ts).toBe(slack.messages[0]?.ts);

    // When: the retry passes the thread
    await sender.send(sampleAlertMessage(), png, failure.thread);

    // Then: one message, one file in its thread
    expect(slack.messages).toHaveLength(1);
    expect(slack.files).toHaveLength(1);
    expect(slack.files[0]?.thread_ts).toBe(failure.thread?.ts);
  });
});
