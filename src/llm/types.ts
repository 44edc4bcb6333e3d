import type { FamilyDefinition } from '../artifacts/types.ts';
import type { ArtifactRow } from '../artifacts/store.ts';

/** Where a model lives and how to reach it; resolved from the org's provider/model artifacts or the environment. */
export interface ResolvedModel {
  /** `offline` for the built-in generator; otherwise the model artifact id, or `env:<provider>:<model>` for an environment default. */
  modelId: string;
  /** The provider's model name (`gpt-4o-mini`, `claude-sonnet-4-5`, `llama3.1`); `offline` offline. */
  modelName: string;
  providerKind: 'offline' | 'openai' | 'anthropic' | 'openai_compatible';
  baseUrl?: string;
  /** A key given directly (tests, tools). Resolved models carry `apiKeyEnv` instead, so no key travels in a job or a log. */
  apiKey?: string;
  /** Name of the environment variable holding the key, read when the call is made. */
  apiKeyEnv?: string;
  /** The `provider` artifact behind the model, when there is one. */
  providerId?: string;
  supportsStructuredOutputs?: boolean;
  maxOutputTokens?: number;
  /** The model reads images in chat turns (the `model` record's `accepts_images`). */
  acceptsImages?: boolean;
  /** Most calls in flight at once to this provider from this process. */
  maxConcurrency?: number;
  /** USD per token, for the run's cost. */
  inputPricePerToken: number;
  outputPricePerToken: number;
  timeoutMs: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  text: string;
  /** Images the model sees with a user turn (models that accept images only). */
  images?: { data: Uint8Array; mediaType: string }[];
}

export interface ArtifactGenerationRequest {
  family: FamilyDefinition;
  instructions: string[];
  title?: string;
  /** 0-based index of the resource within the run (for `count > 1`). */
  index: number;
  model: ResolvedModel;
  signal?: AbortSignal;
}

export interface GeneratedArtifact {
  name: string;
  description: string;
  /** Passes `family.data`. */
  data: Record<string, unknown>;
  /** Every message exchanged, in order: system, user, assistant (and re-asks), for the group detail. */
  messages: ChatMessage[];
  inputTokens: number;
  outputTokens: number;
}

/** A generation that could not produce valid output; keeps what the model said for the group detail. */
export class ModelOutputError extends Error {
  constructor(
    message: string,
    readonly messages: ChatMessage[],
    readonly rawText: string,
    readonly inputTokens: number,
    readonly outputTokens: number,
  ) {
    super(message);
    this.name = 'ModelOutputError';
  }
}

/**
 * A model call that failed before producing output: the provider refused (after retries), the
 * call timed out, or the key is missing. Carries the conversation so far for the group detail.
 * A call stopped by the caller's signal rejects with the signal's reason instead.
 */
export class ModelCallError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'provider' | 'configuration',
    readonly messages: ChatMessage[],
    readonly inputTokens: number,
    readonly outputTokens: number,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ModelCallError';
    this.status = options?.status;
  }

  readonly status: number | undefined;
}

export interface ChatReplyRequest {
  model: ResolvedModel;
  system: string;
  messages: ChatMessage[];
  /** Sampling temperature (an agent's); the provider's default when absent. */
  temperature?: number;
  signal?: AbortSignal;
  /** Called with the reply so far as text streams in. */
  onText?: (textSoFar: string) => void;
}

export interface ChatReply {
  text: string;
  inputTokens: number;
  outputTokens: number;
}

/** The org's default model record for the purpose, already read by the caller (null: it has none), so resolving does not read it again. */
export interface KnownOrgDefault {
  orgDefault: ArtifactRow | null;
}

export interface ModelGateway {
  /** The model a request will use: `config.params.model_id` when given, else the org default, else the environment's, else offline. */
  resolveModel(orgId: string, requestedModelId?: string, purpose?: 'text' | 'image' | 'speech' | 'transcription', known?: KnownOrgDefault): Promise<ResolvedModel>;
  generateArtifact(request: ArtifactGenerationRequest): Promise<GeneratedArtifact>;
  chatReply(request: ChatReplyRequest): Promise<ChatReply>;
}
