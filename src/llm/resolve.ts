import { sql } from 'kysely';
import type { z } from 'zod';
import { modelFamily } from '../artifacts/families/model.ts';
import { providerFamily } from '../artifacts/families/provider.ts';
import { findArtifact, type ArtifactRow } from '../artifacts/store.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { badRequest } from '../http/errors.ts';
import type { KnownOrgDefault, ResolvedModel } from './types.ts';
import { providerKeyRefusal } from './providers.ts';
import { isUuid } from '../ids.ts';

export type ModelPurpose = 'text' | 'image' | 'speech' | 'transcription';
type ModelData = z.infer<typeof modelFamily.data>;
type ProviderData = z.infer<typeof providerFamily.data>;

export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';
export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';

/** Models the environment default falls back to for the purposes other than text (OpenAI only). */
const OPENAI_MEDIA_MODELS: Record<Exclude<ModelPurpose, 'text'>, string> = {
  image: 'gpt-image-1',
  speech: 'gpt-4o-mini-tts',
  transcription: 'gpt-4o-transcribe',
};

/** USD per million tokens, for the cost of runs on an environment default model (no artifact holds its price). */
const LIST_PRICES: Record<string, { input: number; output: number }> = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-opus-4-5': { input: 5, output: 25 },
};

export function offlineModel(timeoutMs: number): ResolvedModel {
  return { modelId: 'offline', modelName: 'offline', providerKind: 'offline', inputPricePerToken: 0, outputPricePerToken: 0, timeoutMs };
}

function listPrice(modelName: string): { inputPricePerToken: number; outputPricePerToken: number } {
  const price = LIST_PRICES[modelName];
  return { inputPricePerToken: price ? price.input / 1_000_000 : 0, outputPricePerToken: price ? price.output / 1_000_000 : 0 };
}

/** The default the environment configures, or offline: GLOW_LLM_BASE_URL, then OpenAI, then Anthropic. */
export function environmentModel(config: Config, purpose: ModelPurpose): ResolvedModel {
  const timeoutMs = config.GLOW_LLM_TIMEOUT_MS;
  if (purpose === 'text' && config.GLOW_LLM_BASE_URL) {
    const modelName = config.GLOW_LLM_MODEL ?? 'default';
    return {
      modelId: `env:openai_compatible:${modelName}`, modelName, providerKind: 'openai_compatible', baseUrl: config.GLOW_LLM_BASE_URL,
      ...(config.GLOW_LLM_API_KEY ? { apiKeyEnv: 'GLOW_LLM_API_KEY' } : {}), ...listPrice(modelName), timeoutMs,
    };
  }
  if (config.OPENAI_API_KEY) {
    const modelName = purpose === 'text' ? config.GLOW_LLM_MODEL ?? DEFAULT_OPENAI_MODEL : OPENAI_MEDIA_MODELS[purpose];
    return {
      modelId: `env:openai:${modelName}`, modelName, providerKind: 'openai', ...(config.OPENAI_BASE_URL ? { baseUrl: config.OPENAI_BASE_URL } : {}),
      apiKeyEnv: 'OPENAI_API_KEY', supportsStructuredOutputs: true, ...listPrice(modelName), timeoutMs,
    };
  }
  if (purpose === 'text' && config.ANTHROPIC_API_KEY) {
    const modelName = config.GLOW_LLM_MODEL ?? DEFAULT_ANTHROPIC_MODEL;
    return {
      modelId: `env:anthropic:${modelName}`, modelName, providerKind: 'anthropic', ...(config.ANTHROPIC_BASE_URL ? { baseUrl: config.ANTHROPIC_BASE_URL } : {}),
      apiKeyEnv: 'ANTHROPIC_API_KEY', supportsStructuredOutputs: true, ...listPrice(modelName), timeoutMs,
    };
  }
  return offlineModel(timeoutMs);
}

/** A model artifact's settings, with its provider's (or the instance credentials of its provider kind). */
async function modelFromArtifact(database: Database, config: Config, row: ArtifactRow): Promise<ResolvedModel> {
  const model = modelFamily.data.parse(row.data) as ModelData;
  const base = {
    modelId: row.id,
    modelName: model.model_name,
    inputPricePerToken: model.input_price_per_token,
    outputPricePerToken: model.output_price_per_token,
    ...(model.max_output_tokens !== undefined ? { maxOutputTokens: model.max_output_tokens } : {}),
    ...(model.accepts_images ? { acceptsImages: true } : {}),
  };
  if (model.provider_id) {
    const providerRow = await findArtifact(database.db, row.org_id, 'provider', model.provider_id);
    if (!providerRow) throw badRequest(`Model ${row.id} names provider ${model.provider_id}, which does not exist.`, { field: 'config.params.model_id' });
    const provider = providerFamily.data.parse(providerRow.data) as ProviderData;
    const refusal = providerKeyRefusal({ providerKind: provider.kind, baseUrl: provider.base_url, apiKeyEnv: provider.api_key_env }, config);
    if (refusal) throw badRequest(`Model ${row.id} uses provider ${providerRow.id}, whose api_key_env cannot be used: ${refusal}`, { field: 'config.params.model_id' });
    return {
      ...base,
      providerKind: provider.kind,
      providerId: providerRow.id,
      ...(provider.base_url ? { baseUrl: provider.base_url } : {}),
      apiKeyEnv: provider.api_key_env,
      // OpenAI and Anthropic honour JSON schemas; for any other server the provider record has to say so.
      supportsStructuredOutputs: provider.supports_structured_outputs ?? provider.kind !== 'openai_compatible',
      ...(provider.max_concurrency !== undefined ? { maxConcurrency: provider.max_concurrency } : {}),
      timeoutMs: provider.timeout_ms ?? config.GLOW_LLM_TIMEOUT_MS,
    };
  }
  const kind = model.provider_kind;
  if (kind === 'openai') {
    return { ...base, providerKind: kind, apiKeyEnv: 'OPENAI_API_KEY', ...(config.OPENAI_BASE_URL ? { baseUrl: config.OPENAI_BASE_URL } : {}), supportsStructuredOutputs: true, timeoutMs: config.GLOW_LLM_TIMEOUT_MS };
  }
  if (kind === 'anthropic') {
    return { ...base, providerKind: kind, apiKeyEnv: 'ANTHROPIC_API_KEY', ...(config.ANTHROPIC_BASE_URL ? { baseUrl: config.ANTHROPIC_BASE_URL } : {}), supportsStructuredOutputs: true, timeoutMs: config.GLOW_LLM_TIMEOUT_MS };
  }
  if (kind === 'openai_compatible') {
    if (!config.GLOW_LLM_BASE_URL) throw badRequest(`Model ${row.id} uses the instance's OpenAI-compatible server, but GLOW_LLM_BASE_URL is not set; give the model a provider_id.`, { field: 'config.params.model_id' });
    return { ...base, providerKind: kind, baseUrl: config.GLOW_LLM_BASE_URL, ...(config.GLOW_LLM_API_KEY ? { apiKeyEnv: 'GLOW_LLM_API_KEY' } : {}), supportsStructuredOutputs: false, timeoutMs: config.GLOW_LLM_TIMEOUT_MS };
  }
  throw badRequest(`Model ${row.id} names neither a provider_id nor a provider_kind.`, { field: 'config.params.model_id' });
}

export async function resolveModel(
  database: Database,
  config: Config,
  orgId: string,
  requestedModelId: string | undefined,
  purpose: ModelPurpose,
  known?: KnownOrgDefault,
): Promise<ResolvedModel> {
  if (requestedModelId === 'offline') return offlineModel(config.GLOW_LLM_TIMEOUT_MS);
  if (requestedModelId !== undefined) {
    const row = isUuid(requestedModelId) ? await findArtifact(database.db, orgId, 'model', requestedModelId) : undefined;
    if (!row || row.status !== 'published') {
      throw badRequest(`config.params.model_id: ${JSON.stringify(requestedModelId)} is neither "offline" nor a published model of this organisation.`, { field: 'config.params.model_id' });
    }
    const modelPurpose = (row.data as { purpose?: string }).purpose;
    if (modelPurpose !== purpose) {
      throw badRequest(`config.params.model_id: model ${requestedModelId} is for ${modelPurpose}, not ${purpose}.`, { field: 'config.params.model_id' });
    }
    return modelFromArtifact(database, config, row);
  }
  const orgDefault = known ? (known.orgDefault ?? undefined) : (await database.db
    .selectFrom('artifacts')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('type', '=', 'model')
    .where('status', '=', 'published')
    .where(sql<string>`data->>'purpose'`, '=', purpose)
    .where(sql<string>`data->>'is_default'`, '=', 'true')
    .orderBy('updated_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()) as ArtifactRow | undefined;
  if (orgDefault) return modelFromArtifact(database, config, orgDefault);
  return environmentModel(config, purpose);
}
