import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, instructionText, matchByCues, numberBefore, pick } from './offline-text.ts';
import { PROVIDER_KINDS } from './provider.ts';
import { uuid } from '../../ids.ts';

const MODEL_PURPOSES = ['text', 'image', 'speech', 'transcription', 'video'] as const;
type ModelPurpose = (typeof MODEL_PURPOSES)[number];

const modelData = z.strictObject({
  provider_id: uuid().optional()
    .describe('Id of the provider record that serves this model. Give this or provider_kind.'),
  provider_kind: z.enum(PROVIDER_KINDS).optional()
    .describe('Provider flavour, when no provider record is referenced: the instance-level credentials of that vendor are used.'),
  model_name: z.string().min(1).max(200)
    .describe("The vendor's model identifier, exactly as its API expects, e.g. 'gpt-4o-mini', 'claude-sonnet-4-5', 'whisper-1'."),
  purpose: z.enum(MODEL_PURPOSES)
    .describe('What Glow uses the model for: text (chat and generation), image, speech (text-to-speech), transcription (speech-to-text), video.'),
  input_price_per_token: z.number().min(0).max(1)
    .describe('USD per input token, e.g. 0.00000015 for $0.15 per million tokens. Used for run cost reporting.'),
  output_price_per_token: z.number().min(0).max(1)
    .describe('USD per output token, e.g. 0.0000006 for $0.60 per million tokens.'),
  context_window: z.number().int().min(1).max(10000000).optional()
    .describe('Maximum tokens of input plus output the model accepts.'),
  max_output_tokens: z.number().int().min(1).max(1000000).optional()
    .describe('Maximum tokens the model may produce in one reply.'),
  accepts_images: z.boolean().optional()
    .describe('Text models only: whether the model reads images (vision). When true, the images a learner attaches to a chat turn are sent to it; otherwise they are only named in the turn.'),
  is_default: z.boolean().optional()
    .describe('Whether this is the instance default for its purpose. At most one model per purpose should be the default.'),
});

interface KnownModel {
  name: string;
  kind: (typeof PROVIDER_KINDS)[number];
  inputPerMillion: number;
  outputPerMillion: number;
  contextWindow?: number;
}

const KNOWN_MODELS: Record<ModelPurpose, readonly KnownModel[]> = {
  text: [
    { name: 'gpt-4o-mini', kind: 'openai', inputPerMillion: 0.15, outputPerMillion: 0.6, contextWindow: 128000 },
    { name: 'gpt-4.1', kind: 'openai', inputPerMillion: 2, outputPerMillion: 8, contextWindow: 1047576 },
    { name: 'claude-sonnet-4-5', kind: 'anthropic', inputPerMillion: 3, outputPerMillion: 15, contextWindow: 200000 },
    { name: 'claude-haiku-4-5', kind: 'anthropic', inputPerMillion: 1, outputPerMillion: 5, contextWindow: 200000 },
  ],
  image: [{ name: 'gpt-image-1', kind: 'openai', inputPerMillion: 5, outputPerMillion: 40 }],
  speech: [{ name: 'gpt-4o-mini-tts', kind: 'openai', inputPerMillion: 0.6, outputPerMillion: 12 }],
  transcription: [{ name: 'gpt-4o-transcribe', kind: 'openai', inputPerMillion: 2.5, outputPerMillion: 10 }],
  video: [{ name: 'sora-2', kind: 'openai', inputPerMillion: 0, outputPerMillion: 0 }],
};

const MODEL_NAME_IN_TEXT = /\b(gpt-[\w.-]+|claude-[\w.-]+|o\d(?:-[\w.-]+)?|whisper-\d|dall-e-\d|tts-\d(?:-[\w-]+)?|sora-[\w.-]+|llama[\w.:-]*|mistral[\w.:-]*|qwen[\w.:-]*)\b/i;

const perToken = (perMillion: number): number => Number((perMillion / 1_000_000).toPrecision(6));

export const modelFamily = defineFamily({
  type: 'model',
  plural: 'models',
  summary: 'A model Glow may call, what it is used for, and its price per token for cost reporting.',
  data: modelData,
  writeRole: 'admin',
  artifactRefs: { provider_id: 'provider' },
  rules: (data) => (data.provider_id === undefined && data.provider_kind === undefined ? [{ path: ['provider_id'], message: 'is required unless provider_kind is given: name the provider record that serves the model, or its kind' }] : []),
  // A model made by generation is never the default: one wrongly named default model would make
  // every generation of the org fail. An admin makes a model the default by hand.
  settleGenerated: (data) => {
    const { is_default: _default, ...rest } = data;
    return rest;
  },
  example: {
    provider_id: '0190b3a4-0000-7000-8000-000000000007',
    model_name: 'gpt-4o-mini',
    purpose: 'text',
    input_price_per_token: 0.00000015,
    output_price_per_token: 0.0000006,
    context_window: 128000,
    max_output_tokens: 16384,
    is_default: true,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const purpose = matchByCues(text, {
      transcription: ['transcri', 'speech-to-text', 'speech to text', 'stt', 'whisper'],
      speech: ['tts', 'text-to-speech', 'text to speech', 'speech', 'voice'],
      image: ['image', 'picture', 'illustration', 'dall-e'],
      video: ['video', 'sora'],
      text: ['text', 'chat', 'llm', 'language model', 'grading', 'generation'],
    }) ?? 'text';
    const known = pick(random, KNOWN_MODELS[purpose]);
    const namedModel = MODEL_NAME_IN_TEXT.exec(text)?.[1]?.toLowerCase();
    const modelName = namedModel ?? known.name;
    const kind = namedModel === undefined ? known.kind
      : namedModel.startsWith('claude') ? 'anthropic'
        : /^(llama|mistral|qwen)/.test(namedModel) ? 'openai_compatible' : 'openai';
    const contextK = numberBefore(text, 'k context|k tokens');
    const contextWindow = contextK !== undefined ? Math.round(contextK * 1000) : known.contextWindow;
    return {
      // Model names come from the vendor, so distinct runs differ by position rather than by name.
      name: index === 0 ? modelName : `${modelName} (${index + 1})`,
      description: clip(text.length > 0 ? text : `${purpose} model ${modelName}.`, 500),
      data: {
        provider_kind: kind,
        model_name: modelName.slice(0, 200),
        purpose,
        input_price_per_token: perToken(known.inputPerMillion),
        output_price_per_token: perToken(known.outputPerMillion),
        ...(contextWindow !== undefined && contextWindow >= 1 && contextWindow <= 10000000 ? { context_window: contextWindow } : {}),
      },
    };
  },
});
