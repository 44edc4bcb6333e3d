import { z } from 'zod';
import { defineFamily } from './define.ts';
import { HTTP_URL_MESSAGE, HTTP_URL_PATTERN, clamp, clip, instructionText, matchByCues, numberBefore, pick, titleCase, withOrdinal } from './offline-text.ts';

export const PROVIDER_KINDS = ['openai', 'anthropic', 'openai_compatible'] as const;

/** Name of an environment variable, never its value. */
export const ENV_VAR_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

const providerData = z.strictObject({
  kind: z.enum(PROVIDER_KINDS)
    .describe('API flavour: openai, anthropic, or openai_compatible for any server speaking the OpenAI API (vLLM, Ollama, OpenRouter...).'),
  base_url: z.string().regex(HTTP_URL_PATTERN, HTTP_URL_MESSAGE).max(2000).optional()
    .describe("API base URL, e.g. 'http://localhost:11434/v1'. Required for openai_compatible; omit for the vendor's default endpoint."),
  api_key_env: z.string().regex(ENV_VAR_NAME_PATTERN, 'must be the NAME of an environment variable (capital letters, digits and _, such as OPENAI_API_KEY), never the key itself').max(128)
    .describe("NAME of the server environment variable holding the API key, e.g. 'OPENAI_API_KEY'. Never the key itself."),
  timeout_ms: z.number().int().min(1000).max(600000).optional()
    .describe('Per-request timeout in milliseconds.'),
  max_concurrency: z.number().int().min(1).max(1000).optional()
    .describe('Most requests Glow sends to this provider at the same time.'),
  supports_structured_outputs: z.boolean().optional()
    .describe('Whether the endpoint honours JSON-schema structured outputs; when false Glow falls back to prompting for JSON.'),
});

const DEFAULT_KEY_ENV = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', openai_compatible: 'LLM_API_KEY' } as const;

export const providerFamily = defineFamily({
  type: 'provider',
  plural: 'providers',
  summary: 'A connection to a model vendor (OpenAI, Anthropic or an OpenAI-compatible server) and where its API key lives.',
  data: providerData,
  writeRole: 'admin',
  example: {
    kind: 'openai_compatible',
    base_url: 'https://llm.example.edu/v1',
    api_key_env: 'CAMPUS_LLM_API_KEY',
    timeout_ms: 60000,
    max_concurrency: 8,
    supports_structured_outputs: true,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const url = /https?:\/\/[^\s"'<>]+/.exec(text)?.[0]?.replace(/[.,;)]+$/, '');
    const kind = matchByCues(text, {
      anthropic: ['anthropic', 'claude'],
      openai_compatible: ['compatible', 'ollama', 'vllm', 'openrouter', 'together', 'local', 'self-hosted', 'lm studio'],
      openai: ['openai', 'gpt', 'azure'],
    }) ?? (url ? 'openai_compatible' : pick(random, ['openai', 'anthropic'] as const));
    const namedEnv = /\b[A-Z][A-Z0-9_]*_(?:KEY|TOKEN|SECRET)\b/.exec(text)?.[0];
    const timeoutSeconds = numberBefore(text, 'seconds?|secs?|s');
    const baseUrl = url ?? (kind === 'openai_compatible' ? pick(random, ['http://localhost:11434/v1', 'http://localhost:8000/v1']) : undefined);
    return {
      name: withOrdinal(titleCase(kind.replace('_', ' ')), index),
      description: clip(text.length > 0 ? text : `Connection to ${kind}.`, 500),
      data: {
        kind,
        ...(baseUrl ? { base_url: baseUrl.slice(0, 2000) } : {}),
        api_key_env: namedEnv ?? DEFAULT_KEY_ENV[kind],
        timeout_ms: timeoutSeconds !== undefined ? clamp(Math.round(timeoutSeconds * 1000), 1000, 600000) : pick(random, [30000, 60000, 120000]),
        supports_structured_outputs: kind !== 'openai_compatible',
      },
    };
  },
});
