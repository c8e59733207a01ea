import { describe, expect, it } from 'vitest';
import { deliveryKeyText } from './deliveries.js';

describe('deliveryKeyText', () => {
  it('names every part of the key', () => {
    const key = { batch: 'b', metricName: 'm', metricType: 'alert', timestamp: new Date(0), channel: 'email' };
    expect(deliveryKeyText(key)).toBe('b|m|alert|1970-01-01T00:00:00.000Z|email');
  });
});
