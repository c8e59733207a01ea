import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderAlertChart } from '../shared/alerts/chart.js';
import { createEmailSender, sanitizeHeaderValue } from '../shared/alerts/email.js';
import { emailSettingsFromEnv, type EmailSettings } from '../shared/alerts/settings.js';
import { formatSummary } from '../shared/alerts/message.js';
import { startSmtpServer } from './support/smtp-server.js';
import type { TestSmtpServer } from './support/smtp-server.js';
import { conformalAlertMessage, pcaKnnAlertMessage, sampleAlertMessage, spikePoints } from './support/alert-message.js';


const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(png.toString('ascii', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('emailSettingsFromEnv', () => {
  const complete = {
    ANOMSTACK_ALERT_EMAIL_FROM: 'alerts@example.com',
    ANOMSTACK_ALERT_EMAIL_TO: ' ops@example.com ,  oncall@example.com,',
    ANOMSTACK_ALERT_EMAIL_SMTP_HOST: 'smtp.example.com',
    ANOMSTACK_ALERT_EMAIL_SMTP_PORT: '587',
    ANOMSTACK_ALERT_EMAIL_PASSWORD: 's3cret pass',
  };

  it('is null when nothing is set', () => {
    expect(emailSettingsFromEnv({})).toBeNull();
    expect(emailSettingsFromEnv({ ANOMSTACK_ALERT_EMAIL_TO: '  ' })).toBeNull();
  });

  it('splits and trims the recipient list and logs in as the sender', () => {
    const settings = emailSettingsFromEnv(complete);
    expect(settings).toMatchObject({
      from: 'alerts@example.com',
      to: ['ops@example.com', 'oncall@example.com'],
      host: 'smtp.example.com',
      port: 587,
      user: 'alerts@example.com',
      password: 's3cret pass',
      secure: false,
      requireTls: true,
    });
  });

  it('uses implicit TLS on port 465 and allows plain SMTP without a password or on loopback', () => {
    expect(emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_SMTP_PORT: '465' })?.secure).toBe(true);
    expect(emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_PASSWORD: '' })?.requireTls).toBe(false);
    expect(emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1' })?.requireTls).toBe(false);
  });

  it('names the missing variables when partly set', () => {
    expect(() => emailSettingsFromEnv({ ANOMSTACK_ALERT_EMAIL_FROM: 'a@b.c' })).toThrow(
      /ANOMSTACK_ALERT_EMAIL_TO, ANOMSTACK_ALERT_EMAIL_SMTP_HOST, ANOMSTACK_ALERT_EMAIL_SMTP_PORT are not set/,
    );
    expect(() => emailSettingsFromEnv({ ANOMSTACK_ALERT_EMAIL_PASSWORD: 'x' })).toThrow(/ANOMSTACK_ALERT_EMAIL_FROM/);
  });

  it('names the variable holding an invalid value', () => {
    expect(() => emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_SMTP_PORT: '25x' })).toThrow(/ANOMSTACK_ALERT_EMAIL_SMTP_PORT/);
    expect(() => emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_SMTP_PORT: '70000' })).toThrow(/ANOMSTACK_ALERT_EMAIL_SMTP_PORT/);
    expect(() => emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com, not an address' })).toThrow(
      /ANOMSTACK_ALERT_EMAIL_TO: not an email address: "not an address"/,
    );
    expect(() => emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_FROM: 'a@b.c\r\nBcc: x@y' })).toThrow(/ANOMSTACK_ALERT_EMAIL_FROM/);
    expect(() => emailSettingsFromEnv({ ...complete, ANOMSTACK_ALERT_EMAIL_TO: ' , ' })).toThrow(/ANOMSTACK_ALERT_EMAIL_TO/);
  });
});

describe('sanitizeHeaderValue', () => {
  it('flattens control characters and caps the length', () => {
    expect(sanitizeHeaderValue('a\r\nBcc: evil@x\u0000\u2028b')).toBe('a Bcc: evil@x b');
    expect(sanitizeHeaderValue('x'.repeat(500))).toHaveLength(200);
  });
});

describe('email sender', () => {
  let smtp: TestSmtpServer;
  let settings: EmailSettings;
  let png: Buffer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    png = await renderAlertChart({ title: '[batch_one] cpu_usage anomaly', threshold: 0.8, points: spikePoints(30) });
  });

  afterAll(async () => {
    await smtp.close();
  });

  beforeEach(() => {
    smtp.reset();
    const fromEnv = emailSettingsFromEnv({
      ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com, oncall@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
      ANOMSTACK_ALERT_EMAIL_PASSWORD: 'pw',
    });
    if (fromEnv === null) {
      throw new Error('settings expected');
    }
    settings = { ...fromEnv, timeoutMs: 5_000 };
  });

  it('delivers text, HTML and the chart inline and attached to every recipient', async () => {
    // Given
    const sender = createEmailSender(settings);

    // When
    const result = await sender.send(sampleAlertMessage(), png);
    await sender.close();

    // Then
    const [mail] = await smtp.waitFor(1);
    expect(mail?.subject).toBe('[batch_one] cpu_usage anomaly');
    expect(smtp.envelopes[0]?.to.sort()).toEqual(['oncall@example.com', 'ops@example.com']);
    expect(smtp.envelopes[0]?.from).toBe('anomstack@example.com');
    expect(smtp.envelopes[0]?.user).toBe('anomstack@example.com');
    expect(mail?.messageId).toBe(result.messageId);

    const text = mail?.text ?? '';
    const html = typeof mail?.html === 'string' ? mail.html : '';
    for (const body of [text, html]) {
      expect(body).toContain('batch_one');
      expect(body).toContain('cpu_usage');
      expect(body).toContain('91.25');
      expect(body).toContain('0.9731');
      expect(body).toContain('2026-11-24 03:00:00 UTC');
      expect(body).toContain('team=infra');
    }
    expect(text).toContain('0.9104 >= threshold 0.8');
    expect(html).toContain('0.9104 &gt;= threshold 0.8');

    const attachments = mail?.attachments ?? [];
    expect(attachments).toHaveLength(2);
    const inline = attachments.find((attachment) => attachment.contentDisposition === 'inline');
    const attached = attachments.find((attachment) => attachment.contentDisposition === 'attachment');
    expect(inline?.cid).toBeTruthy();
    expect(mail?.html).toContain(`cid:${inline?.cid ?? 'missing'}`);
    for (const attachment of [inline, attached]) {
      expect(attachment?.filename).toBe('cpu_usage.png');
      expect(attachment?.contentType).toBe('image/png');
      expect(attachment?.content.equals(png)).toBe(true);
      expect(pngSize(attachment?.content ?? Buffer.alloc(0)).width).toBeGreaterThan(1000);
    }
  });

  it('says why: the expected range, the detector that fired and how unusual, in text and HTML', async () => {
    // Given: the default detector's alert
    const sender = createEmailSender(settings);

    // When
    await sender.send(conformalAlertMessage(), png);
    await sender.close();

    // Then: each line in the text body, labelled, and the same facts in the HTML table
    const [mail] = await smtp.waitFor(1);
    const text = mail?.text ?? '';
    const html = typeof mail?.html === 'string' ? mail.html : '';
    expect(text).toMatch(/^Why: +value 91\.25 is above the expected range 48\.5 to 51\.25; score 0\.999953 >= threshold 0\.999$/m);
    expect(text).toMatch(/^Detector: +conformal_default \(Conformal\) 0\.999953$/m);
    // 1 - 0.999953 = 4.7e-5, about 1 in 21,000: the calibrated score's meaning, no more.
    expect(text).toMatch(/^How unusual: +about 1 in 21,000 of this metric's training points look this unusual \(Conformal's estimate, 1 - score\)$/m);
    expect(html).toContain('<th align="left" style="padding:4px 16px 4px 0;color:#4b5563;font-weight:600;vertical-align:top">Detector</th>');
    expect(html).toContain('conformal_default (Conformal) 0.999953');
    expect(html).toContain('about 1 in 21,000 of this metric&#39;s training points look this unusual');
    expect(html).toContain('above the expected range 48.5 to 51.25; score 0.999953 &gt;= threshold 0.999');
  });

  it('reads well for the original models, which give no expected range and no rate', async () => {
    // Given: PCA + KNN, KNN highest
    const sender = createEmailSender(settings);

    // When
    await sender.send(pcaKnnAlertMessage(), png);
    await sender.close();

    // Then: the detector and its scale, no Why line (no range) and no rate claimed
    const [mail] = await smtp.waitFor(1);
    const text = mail?.text ?? '';
    expect(text).not.toMatch(/^Why:/m);
    expect(text).not.toContain('expected range');
    expect(text).not.toMatch(/1 in /);
    expect(text).toMatch(/^Detector: +knn \(KNN\) 0\.9731, the highest of 2 models \(pca 0\.8477\)$/m);
    expect(text).toMatch(/^How unusual: +score 0\.9731 on KNN's 0-1 scale, where 1 is the most unusual point it was trained on \(not a rate\)$/m);
    expect(text).toMatch(/^Smoothed score: +0\.9104 >= threshold 0\.8$/m);
    // Labels line up: every fact's value starts in the same column.
    const factLines = text.split('\n\n')[1]?.split('\n') ?? [];
    expect(factLines.map((line) => line.split(':')[0])).toEqual(['Batch', 'Metric', 'Time', 'Value', 'Detector', 'How unusual', 'Score', 'Smoothed score', 'Tags']);
    const columns = factLines.map((line) => line.search(/(?<=: +)\S/));
    expect(new Set(columns).size).toBe(1);
  });

  it('neutralises header injection from metric data and escapes it in HTML', async () => {
    // Given: a metric name carrying a header and markup
    const sender = createEmailSender(settings);
    const metric = 'cpu\r\nBcc: evil@x\r\nX-Injected: yes <script>alert(1)</script>';

    // When
    await sender.send(sampleAlertMessage({ metric, tags: { note: '<img src=x onerror=alert(1)>' }, details: { why: 'a & b' } }), png);
    await sender.close();

    // Then: no extra recipient, no extra header, one-line subject
    const [mail] = await smtp.waitFor(1);
    expect(smtp.envelopes[0]?.to.sort()).toEqual(['oncall@example.com', 'ops@example.com']);
    expect(mail?.bcc).toBeUndefined();
    expect(mail?.headers.has('x-injected')).toBe(false);
    expect(mail?.subject).toBe('[batch_one] cpu Bcc: evil@x X-Injected: yes <script>alert(1)</script> anomaly');
    const headerBlock = (smtp.raw[0] ?? Buffer.alloc(0)).toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(headerBlock).not.toMatch(/^(Bcc|X-Injected):/im);

    const html = typeof mail?.html === 'string' ? mail.html : '';
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('why=a &amp; b');
    expect(mail?.attachments[0]?.filename).toMatch(/^[A-Za-z0-9._-]+\.png$/);
  });

  it('gives a stable Message-ID and delivery header for the same delivery key', async () => {
    const sender = createEmailSender(settings);
    const key = 'batch_one|cpu_usage|alert|2026-11-24T03:00:00.000Z|email';
    const first = await sender.send(sampleAlertMessage(), png, key);
    const second = await sender.send(sampleAlertMessage(), png, key);
    const other = await sender.send(sampleAlertMessage(), png, `${key}x`);
    await sender.close();

    const mails = await smtp.waitFor(3);
    expect(first.messageId).toBe(second.messageId);
    expect(other.messageId).not.toBe(first.messageId);
    expect(mails[0]?.messageId).toBe(first.messageId);
    expect(mails[0]?.headers.get('x-anomstack-delivery')).toBe(mails[1]?.headers.get('x-anomstack-delivery'));
    expect(mails[0]?.headers.get('x-anomstack-delivery')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('sends the summary', async () => {
    const sender = createEmailSender(settings);
    const since = new Date(Date.UTC(2026, 10, 23, 0, 0));
    const items = [
      { batch: 'b1', metric: 'm1', metricType: 'alert' as const, timestamp: new Date(Date.UTC(2026, 10, 23, 5)), value: 3.5 },
      { batch: 'b1', metric: 'm<2>', metricType: 'change' as const, timestamp: new Date(Date.UTC(2026, 10, 23, 6)), value: -1 },
      { batch: 'b2', metric: 'm3', metricType: 'tholdalert' as const, timestamp: new Date(Date.UTC(2026, 10, 23, 7)), value: 101 },
    ];
    await sender.sendSummary(items, since);
    await sender.close();

    const [mail] = await smtp.waitFor(1);
    expect(mail?.subject).toBe('Anomstack summary: 1 anomaly, 1 change, 1 threshold breach since 2026-11-23 00:00:00 UTC');
    expect(mail?.text).toContain('m1 = 3.5');
    expect(mail?.text).toContain('b2 (1)');
    expect(mail?.html).toContain('m&lt;2&gt;');
    expect(formatSummary([], since).text).toContain('No anomalies');
  });

  it('rejects with a clear error when the server refuses or is gone', async () => {
    const sender = createEmailSender(settings);
    smtp.failNext(1);
    await expect(sender.send(sampleAlertMessage(), png)).rejects.toThrow(
      new RegExp(`email to ops@example.com, oncall@example.com via 127.0.0.1:${smtp.port} failed: .*451`),
    );
    await sender.close();

    const gone = await startSmtpServer();
    const port = gone.port;
    await gone.close();
    const unreachable = createEmailSender({ ...settings, port });
    await expect(unreachable.send(sampleAlertMessage(), png)).rejects.toThrow(new RegExp(`via 127.0.0.1:${port} failed: .*ECONNREFUSED`));
    await unreachable.close();
  });
});
