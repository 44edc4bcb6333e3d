import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import type { Config } from '../config.ts';
import type { ResolvedModel } from './types.ts';

export class MissingApiKeyError extends Error {
  constructor(readonly variable: string | undefined, readonly providerKind: string) {
    super(variable
      ? `The environment variable ${variable} that holds the ${providerKind} API key is not set on the server.`
      : `No API key is configured for ${providerKind}.`);
    this.name = 'MissingApiKeyError';
  }
}

export class ProviderKeyNotAllowedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderKeyNotAllowedError';
  }
}

const sameEndpoint = (a: string | undefined, b: string | undefined) => (a ?? '').replace(/\/+$/, '') === (b ?? '').replace(/\/+$/, '');

/**
 * Why this model may not be sent the variable its provider names, or undefined when it may. An org
 * admin writes provider records, the operator sets the environment: a record could otherwise name
 * GLOW_ADMIN_TOKEN or DATABASE_URL with a base URL of its own and have the server send it there.
 * So the instance's own keys go only to the endpoints they were set for, and any other variable
 * must be one the operator listed in GLOW_PROVIDER_KEY_ENVS.
 */
export function providerKeyRefusal(model: Pick<ResolvedModel, 'providerKind' | 'baseUrl' | 'apiKeyEnv'>, config: Config): string | undefined {
  const name = model.apiKeyEnv;
  if (!name) return undefined;
  const listed = config.GLOW_PROVIDER_KEY_ENVS.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  if (listed.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : entry === name))) return undefined;
  const instanceKeys: Record<string, () => boolean> = {
    OPENAI_API_KEY: () => model.providerKind === 'openai' && (!model.baseUrl || sameEndpoint(model.baseUrl, config.OPENAI_BASE_URL)),
    ANTHROPIC_API_KEY: () => model.providerKind === 'anthropic' && (!model.baseUrl || sameEndpoint(model.baseUrl, config.ANTHROPIC_BASE_URL)),
    GLOW_LLM_API_KEY: () => config.GLOW_LLM_BASE_URL !== undefined && sameEndpoint(model.baseUrl, config.GLOW_LLM_BASE_URL),
  };
  const instanceKey = instanceKeys[name];
  if (instanceKey) {
    return instanceKey()
      ? undefined
      : `The instance's ${name} is sent only to the endpoint it was set for (${name === 'GLOW_LLM_API_KEY' ? 'GLOW_LLM_BASE_URL' : `the ${model.providerKind === 'anthropic' ? 'Anthropic' : 'OpenAI'} API`}), not to this provider's base_url; name another variable, which the operator lists in GLOW_PROVIDER_KEY_ENVS.`;
  }
  return `The environment variable ${name} is not one this server hands to model providers; the operator lists those in GLOW_PROVIDER_KEY_ENVS.`;
}

/**
 * The key for a call, read now rather than when the model was resolved, so it never sits in a job
 * payload. Provider records name arbitrary variables, hence process.env; known names may also
 * come from the loaded configuration (tests and embedders pass overrides there).
 */
export function apiKeyFor(model: ResolvedModel, config: Config): string | undefined {
  if (model.apiKey) return model.apiKey;
  if (!model.apiKeyEnv) return undefined;
  const refusal = providerKeyRefusal(model, config);
  if (refusal) throw new ProviderKeyNotAllowedError(refusal);
  const configured = (config as unknown as Record<string, unknown>)[model.apiKeyEnv];
  if (typeof configured === 'string' && configured.length > 0) return configured;
  const fromEnvironment = process.env[model.apiKeyEnv];
  return fromEnvironment && fromEnvironment.length > 0 ? fromEnvironment : undefined;
}

export function languageModelFor(model: ResolvedModel, config: Config): LanguageModel {
  const apiKey = apiKeyFor(model, config);
  switch (model.providerKind) {
    case 'openai': {
      // Without a key the SDK would silently fall back to OPENAI_API_KEY, which may not be the key the provider record names.
      if (!apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'openai');
      // Chat completions rather than the Responses API: the same wire as every OpenAI-compatible server.
      return createOpenAI({ apiKey, ...(model.baseUrl ? { baseURL: model.baseUrl } : {}) }).chat(model.modelName);
    }
    case 'anthropic': {
      if (!apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'anthropic');
      return createAnthropic({ apiKey, ...(model.baseUrl ? { baseURL: model.baseUrl } : {}) })(model.modelName);
    }
    case 'openai_compatible': {
      if (!model.baseUrl) throw new Error(`Model ${model.modelId} has no base URL for its OpenAI-compatible server.`);
      if (model.apiKeyEnv && !apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'openai_compatible');
      return createOpenAICompatible({
        name: 'openai_compatible',
        baseURL: model.baseUrl,
        ...(apiKey ? { apiKey } : {}),
        includeUsage: true,
        supportsStructuredOutputs: model.supportsStructuredOutputs === true,
      })(model.modelName);
    }
    case 'offline':
      throw new Error('The offline model has no provider.');
  }
}

/** A counting semaphore per provider, honouring a provider record's max_concurrency. */
export class ConcurrencyLimits {
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  async run<T>(model: ResolvedModel, task: () => Promise<T>): Promise<T> {
    if (!model.maxConcurrency) return task();
    const key = model.providerId ?? `${model.providerKind}:${model.baseUrl ?? ''}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.slots.set(key, slot);
    }
    const current = slot;
    // A released slot passes straight to the next waiter, so a newcomer cannot slip in between.
    if (current.active < model.maxConcurrency) current.active += 1;
    else await new Promise<void>((resolve) => current.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = current.waiting.shift();
      if (next) next();
      else current.active -= 1;
    }
  }
}
