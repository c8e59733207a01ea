/**
 * The llmalert job against a loopback stand-in for an OpenAI-compatible API
 * (test/support/llm-stub.ts), the loopback SMTP server and the Slack stub, on the real Postgres:
 * a good answer, a malformed one, a timeout, a 429 and a refused key, and that nothing is sent
 * anywhere when the job is off or the LLM is not configured.
 */
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLlmalertBatch } from '../services/alert/src/llmalert.js';
import type { AppEnv } from '../shared/config/env.js';
import { InputError } from '../shared/errors.js';
import { toQueueError } from '../shared/worker.js';
import { countRows, deliveries, seed, series, setUpAlertJobs, type AlertJobsFixture } from './alert-jobs-fixtures.js';
import { startLlmStub, type LlmStub } from './support/llm-stub.js';

const ON = 'disable_llmalert: false\nalert_methods: "email,slack"\nllmalert_model: "batch-model"\nmetric_tags:\n  latency:\n    team: web\n';

let fixture: AlertJobsFixture;
let llm: LlmStub;
const now = new Date('2026-11-25T12:00:00Z');
const calm = (n: number): number[] => Array.from({ length: n }, (_, i) => 100 + (i % 5));
const EXPLANATION = 'latency jumped from about 100 to 900 at the newest point';
const YES = { content: JSON.stringify({ anomalous: true, explanation: EXPLANATION }) };
const NO = { content: '{"anomalous": false, "explanation": "ordinary noise"}' };

function llmEnv(overrides: Partial<NonNullable<AppEnv['llm']>> = {}): Partial<AppEnv> {
  return { llm: { baseUrl: llm.url, apiKey: 'sk-test-secret', model: null, timeoutMs: 5000, ...overrides } };
}

beforeAll(async () => {
  llm = await startLlmStub();
  fixture = await setUpAlertJobs({ llm: ON, llm_bad: ON, llm_slow: ON, llm_busy: ON, llm_denied: ON, llm_off: '' });
  for (const batch of ['llm', 'llm_bad', 'llm_slow', 'llm_busy', 'llm_denied', 'llm_off']) {
    await seed(fixture, batch, series(batch, 'latency', now, [...calm(30), 900]));
    await seed(fixture, batch, series(batch, 'throughput', now, calm(31)));
  }
});

beforeEach(() => {
  llm.reset();
  fixture.smtp.reset();
  fixture.slack.reset();
});

afterAll(async () => {
  await fixture?.close();
  await llm?.close();
});

describe('llmalert job: off unless configured', () => {
  it('is off by default (disable_llmalert: true) and sends nothing', async () => {
    const result = await createLlmalertBatch({})(fixture.batch('llm_off'), fixture.context(now, { env: llmEnv() }));
    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringContaining('disable_llmalert') });
    expect(llm.requests).toHaveLength(0);
  });

  it('sends no data anywhere when ANOMSTACK_LLM_* is not set', async () => {
    const result = await createLlmalertBatch({})(fixture.batch('llm'), fixture.context(now, { env: { llm: null } }));
    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringContaining('ANOMSTACK_LLM_BASE_URL') });
    expect(llm.requests).toHaveLength(0);
    expect(await countRows(fixture, 'llm', 'llmalert')).toBe(0);
  });

  it('asks nothing in a dry run', async () => {
    const result = await createLlmalertBatch({})(fixture.batch('llm'), fixture.context(now, { env: llmEnv(), dryRun: true }));
    expect(result.details).toMatchObject({ notAsked: { latency: 'dry run: would ask', throughput: 'dry run: would ask' } });
    expect(llm.requests).toHaveLength(0);
  });
});

describe('llmalert job: answers', () => {
  it('writes an llmalert row with the explanation and alerts once by email and Slack on a yes', async () => {
    llm.reply(YES, NO);
    const result = await createLlmalertBatch({})(fixture.batch('llm'), fixture.context(now, { env: llmEnv() }));

    expect(result).toMatchObject({ status: 'ok', rows: 1, details: { asked: [{ metric: 'latency', anomalous: true }, { metric: 'throughput', anomalous: false }] } });
    const [row] = await fixture.database.db.query<{ metric_timestamp: Date; metadata: Record<string, unknown> }>({
      text: "select metric_timestamp, metadata from metrics_llm where metric_type = 'llmalert'",
      values: [],
    });
    expect(row!.metric_timestamp.toISOString()).toBe(now.toISOString());
    expect(row!.metadata).toEqual({ anomaly_explanation: EXPLANATION, llmalert_model: 'batch-model' });

    // What went to the API: the model, JSON format, the key as a bearer token, the values but no names.
    const request = llm.requests[0]!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.authorization).toBe('Bearer sk-test-secret');
    expect(request.body.model).toBe('batch-model');
    expect(request.body.response_format).toEqual({ type: 'json_object' });
    const user = request.body.messages!.find((m) => m.role === 'user')!.content;
    expect(user).toContain('2026-11-25 12:00:00,900');
    expect(user).not.toContain('latency');
    expect(user).not.toContain('llm');

    const [mail] = await fixture.smtp.waitFor(1);
    expect(mail!.subject).toBe('[llm] latency LLM alert');
    expect(mail!.text).toContain('latency jumped from about 100 to 900');
    expect(mail!.text).toContain('team=web');
    await fixture.slack.waitForFiles(1);
    expect(fixture.slack.messages).toHaveLength(1);
    expect(JSON.stringify(fixture.slack.messages[0]!.blocks)).toContain('latency jumped');
    const sent = (await deliveries(fixture)).filter((d) => d.metric_batch === 'llm');
    expect(sent.map((d) => [d.metric_name, d.metric_type, d.channel, d.status])).toEqual([
      ['latency', 'llmalert', 'email', 'sent'],
      ['latency', 'llmalert', 'slack', 'sent'],
    ]);
  });

  it('does not ask again about a point it has alerted on, and sends nothing twice', async () => {
    llm.reply(NO);
    const result = await createLlmalertBatch({})(fixture.batch('llm'), fixture.context(now, { env: llmEnv() }));
    expect(result.details).toMatchObject({ notAsked: { latency: 'its newest point already has an llmalert' } });
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.body.messages!.find((m) => m.role === 'user')!.content).not.toContain(',900');
    expect(await countRows(fixture, 'llm', 'llmalert')).toBe(1);
    expect(fixture.smtp.messages).toHaveLength(0);
    expect(fixture.slack.messages).toHaveLength(0);
  });

  it('uses ANOMSTACK_LLM_MODEL over llmalert_model', async () => {
    await createLlmalertBatch({})(fixture.batch('llm'), fixture.context(now, { env: llmEnv({ model: 'env-model' }) }));
    expect(llm.requests[0]!.body.model).toBe('env-model');
  });

  it('fails at once (input error) on a malformed answer, after writing the good ones', async () => {
    llm.reply({ content: 'Yes, that spike looks odd.' }, YES);
    const run = createLlmalertBatch({})(fixture.batch('llm_bad'), fixture.context(now, { env: llmEnv() }));
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/latency: the LLM's answer is not JSON/);
    expect(toQueueError(error, 'llm_bad', 'llmalert')).toBeInstanceOf(UnrecoverableError);
    // throughput answered yes: its row and alert went out.
    expect(await countRows(fixture, 'llm_bad', 'llmalert')).toBe(1);
    await fixture.smtp.waitFor(1);
    expect(fixture.smtp.messages[0]!.subject).toBe('[llm_bad] throughput LLM alert');
  });

  it('treats JSON of the wrong shape as malformed', async () => {
    llm.reply({ content: '{"anomalous": "maybe"}' }, NO);
    await expect(createLlmalertBatch({})(fixture.batch('llm_bad'), fixture.context(now, { env: llmEnv() }))).rejects.toThrow(
      /not \{anomalous, explanation\}: anomalous: .*explanation/,
    );
  });
});

describe('llmalert job: transient failures are retried', () => {
  it('a timeout fails the job for a retry (not an input error) and writes nothing', async () => {
    llm.reply({ hang: true });
    const error = await createLlmalertBatch({})(fixture.batch('llm_slow'), fixture.context(now, { env: llmEnv({ timeoutMs: 300 }) })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/timed out/);
    expect(error).not.toBeInstanceOf(InputError);
    expect(toQueueError(error, 'llm_slow', 'llmalert')).not.toBeInstanceOf(UnrecoverableError);
    // The first metric's request hung: the second was not asked.
    expect(llm.requests).toHaveLength(1);
    expect(await countRows(fixture, 'llm_slow', 'llmalert')).toBe(0);
  });

  it('a 429 stops the asking, fails for a retry, and the retry asks again and alerts', async () => {
    llm.reply({ status: 429, body: { error: { message: 'Rate limit reached', type: 'requests' } } });
    const error = await createLlmalertBatch({})(fixture.batch('llm_busy'), fixture.context(now, { env: llmEnv() })).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/answered 429/);
    expect(error).not.toBeInstanceOf(InputError);
    expect((error as Error).message).not.toContain('sk-test-secret');
    expect(llm.requests).toHaveLength(1);

    // The queue's retry: the API answers now.
    llm.reply(YES, NO);
    const result = await createLlmalertBatch({})(fixture.batch('llm_busy'), fixture.context(now, { env: llmEnv() }));
    expect(result.rows).toBe(1);
    expect(llm.requests).toHaveLength(3);
    await fixture.smtp.waitFor(1);
    expect(fixture.smtp.messages).toHaveLength(1);
  });

  it('a refused key (401) is an input error: not retried', async () => {
    llm.reply({ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } });
    const error = await createLlmalertBatch({})(fixture.batch('llm_denied'), fixture.context(now, { env: llmEnv() })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/answered 401/);
    expect(llm.requests).toHaveLength(1);
  });
});
