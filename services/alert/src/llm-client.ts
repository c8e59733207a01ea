/**
 * The llmalert job's one call out: a chat completion on an OpenAI-compatible API (the official
 * `openai` package with `baseURL`), JSON response format. The client's own retries are off;
 * errors are classified for the queue: a 429, 5xx, timeout or refused connection is transient
 * (the job is retried with backoff); any other 4xx (bad key, unknown model, bad request) is an
 * {@link InputError}, failed at once. The API key is never logged or put in a message.
 */
import OpenAI from 'openai';
import { InputError } from '../../../shared/errors.js';
import type { LlmSettings } from '../../../shared/llm/settings.js';

export interface LlmRequest {
  model: string;
  system: string;
  user: string;
}

export interface LlmClient {
  /** The answer's text (the first choice's content), or null when it has none. */
  complete(request: LlmRequest): Promise<string | null>;
}

/** The endpoint refused the request for a reason a retry cannot change. */
export class LlmRequestError extends InputError {
  override name = 'LlmRequestError';
}

/** The endpoint is busy, down or slow: the queue retries the job. */
export class LlmUnavailableError extends Error {
  override name = 'LlmUnavailableError';
}

const TRANSIENT_STATUS = new Set([408, 409, 429]);

/** Maps a client error onto the job's retry rules, naming the endpoint but not the key. */
export function classifyLlmError(error: unknown, where: string): Error {
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmUnavailableError(`LLM request to ${where} timed out`, { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new LlmUnavailableError(`LLM request to ${where} failed: ${error.message}`, { cause: error });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status ?? 0;
    const text = `LLM request to ${where} answered ${status}: ${error.message}`;
    return status >= 500 || TRANSIENT_STATUS.has(status) ? new LlmUnavailableError(text, { cause: error }) : new LlmRequestError(text, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

export function createLlmClient(settings: LlmSettings): LlmClient {
  const client = new OpenAI({ baseURL: settings.baseUrl, apiKey: settings.apiKey, timeout: settings.timeoutMs, maxRetries: 0 });
  return {
    async complete(request) {
      try {
        const completion = await client.chat.completions.create({
          model: request.model,
          messages: [
            { role: 'system', content: request.system },
            { role: 'user', content: request.user },
          ],
          response_format: { type: 'json_object' },
        });
        return completion.choices[0]?.message.content ?? null;
      } catch (error) {
        throw classifyLlmError(error, settings.baseUrl);
      }
    },
  };
}
