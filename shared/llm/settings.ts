/**
 * The LLM endpoint of the llmalert job, from `ANOMSTACK_LLM_*`, parsed once at start-up by
 * loadEnv. Null when none is set: the job then sends nothing anywhere. Partly set is an error
 * (a typo must not send metric data to a default endpoint).
 */
export interface LlmSettings {
  /** OpenAI-compatible API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey: string;
  /** Overrides every batch's `llmalert_model` when set. */
  model: string | null;
  /**
   * Timeout of one chat request; a timeout is transient (the job is retried).
   * @defaultValue 60000
   */
  timeoutMs: number;
}

const LLM_VARIABLES = ['ANOMSTACK_LLM_BASE_URL', 'ANOMSTACK_LLM_API_KEY', 'ANOMSTACK_LLM_MODEL'] as const;

export function llmSettingsFromEnv(env: NodeJS.ProcessEnv): LlmSettings | null {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  if (LLM_VARIABLES.every((name) => value(name) === undefined)) {
    return null;
  }
  const baseUrl = value('ANOMSTACK_LLM_BASE_URL');
  const apiKey = value('ANOMSTACK_LLM_API_KEY');
  const missing = [baseUrl === undefined ? 'ANOMSTACK_LLM_BASE_URL' : null, apiKey === undefined ? 'ANOMSTACK_LLM_API_KEY' : null].filter(
    (name): name is string => name !== null,
  );
  if (missing.length > 0) {
    throw new Error(`LLM alerts are partly configured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set`);
  }
  let parsed: URL;
  try {
    parsed = new URL(baseUrl!);
  } catch {
    throw new Error(`ANOMSTACK_LLM_BASE_URL: not a URL: ${JSON.stringify(baseUrl)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`ANOMSTACK_LLM_BASE_URL: must be http or https: ${JSON.stringify(baseUrl)}`);
  }
  if (/\s/.test(apiKey!)) {
    throw new Error('ANOMSTACK_LLM_API_KEY: contains white space');
  }
  const timeoutText = value('ANOMSTACK_LLM_TIMEOUT_MS');
  const timeoutMs = timeoutText === undefined ? 60_000 : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new Error(`ANOMSTACK_LLM_TIMEOUT_MS: not a whole number of milliseconds >= 1: ${JSON.stringify(timeoutText)}`);
  }
  return { baseUrl: parsed.toString().replace(/\/$/, ''), apiKey: apiKey!, model: value('ANOMSTACK_LLM_MODEL') ?? null, timeoutMs };
}
