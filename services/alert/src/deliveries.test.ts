import { describe, expect, it } from 'vitest';
import { decodeResume, deliveryKeyText, encodeFailure } from './deliveries.js';

describe('delivery resume state', () => {
  it('round-trips through last_error', () => {
    const text = encodeFailure('upload failed', { slackThread: { ts: '1.2', channelId: 'C1' } });
    expect(text.startsWith('upload failed')).toBe(true);
    expect(decodeResume(text)).toEqual({ slackThread: { ts: '1.2', channelId: 'C1' } });
  });

  it('is empty for a plain error or none', () => {
    expect(encodeFailure('boom', undefined)).toBe('boom');
    expect(decodeResume('boom')).toEqual({});
    expect(decodeResume(null)).toEqual({});
  });
});

describe('deliveryKeyText', () => {
  it('names every part of the key', () => {
    const key = { batch: 'b', metricName: 'm', metricType: 'alert', timestamp: new Date(0), channel: 'email' };
    expect(deliveryKeyText(key)).toBe('b|m|alert|1970-01-01T00:00:00.000Z|email');
  });
});
