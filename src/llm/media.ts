import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  experimental_generateSpeech as generateSpeech,
  experimental_transcribe as transcribe,
  generateImage as generateImageWithModel,
  NoTranscriptGeneratedError,
  type ImageModel,
} from 'ai';
import { fileTypeFromBuffer } from 'file-type';
import sharp, { type Metadata } from 'sharp';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { renderOfflineCard } from '../synthesis/card.ts';
import { synthesizeSpeechOffline } from '../synthesis/speech.ts';
import { composeVideo, probeMedia } from '../synthesis/video.ts';
import { callFailure, callSignal, MAX_RETRIES } from './generate.ts';
import { apiKeyFor, ConcurrencyLimits, MissingApiKeyError } from './providers.ts';
import { resolveModel } from './resolve.ts';
import { ModelCallError, type ChatMessage, type ModelGateway, type ResolvedModel } from './types.ts';

/**
 * Media models: images, text to speech, speech to text, and video composed from the first two.
 *
 * Which model: `resolveModel` with the purpose `image`, `speech` or `transcription`. A request's
 * model id, else the org's default model artifact for the purpose, else the environment: with
 * OPENAI_API_KEY the OpenAI media models; otherwise offline. GLOW_LLM_BASE_URL is deliberately
 * not a media default: most OpenAI-compatible servers (Ollama, llama.cpp, many vLLM setups) serve
 * chat only, and guessing would turn every offline image into a 404. A server that does serve
 * `/v1/images/generations` or `/v1/audio/*` (LocalAI, some vLLM builds) is used through an
 * explicit `model` artifact with that purpose, on a provider record or `provider_kind:
 * openai_compatible` (which takes GLOW_LLM_BASE_URL).
 *
 * Offline is honest: a card that says no image model drew it, eSpeak NG speech, no transcription.
 */

export type ImageSize = `${number}x${number}`;

export interface VoiceSettings {
  /** The provider's voice (`alloy`, `nova`...). Offline speech ignores it. */
  voice_id: string;
  /** 1 is normal speed. */
  speed?: number;
  /** BCP-47 tag such as `en-US`; drives the offline voice. */
  language?: string;
}

export interface ImageRequest {
  orgId: string;
  modelId?: string;
  /** What to draw; built from `title` and `instructions` when absent. */
  prompt?: string;
  title?: string;
  instructions: string[];
  size?: ImageSize;
  signal?: AbortSignal;
}

export interface GeneratedImage {
  bytes: Buffer;
  mimeType: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';
  modelId: string;
  offline: boolean;
  width: number;
  height: number;
}

export interface SpeechRequest {
  orgId: string;
  modelId?: string;
  text: string;
  voice?: VoiceSettings;
  signal?: AbortSignal;
}

export interface GeneratedSpeech {
  bytes: Buffer;
  /** `audio/wav` offline; what the provider's bytes are otherwise (`audio/mpeg`, `audio/wav`...). */
  mimeType: string;
  durationSeconds?: number;
  modelId: string;
  offline: boolean;
}

export interface TranscriptionRequest {
  orgId: string;
  modelId?: string;
  audio: Buffer;
  /** The upload's type; sent to the provider with the file. */
  mimeType: string;
  signal?: AbortSignal;
}

export interface Transcript {
  /** Empty when the provider heard no speech. */
  text: string;
  modelId: string;
}

export interface VideoRequest {
  orgId: string;
  /** The image model for the frame. */
  modelId?: string;
  /** The speech model for the narration. */
  speechModelId?: string;
  title?: string;
  instructions: string[];
  /** Narrated over the frame; the title and instructions when absent. */
  narrationText?: string;
  voice?: VoiceSettings;
  signal?: AbortSignal;
}

export interface GeneratedVideo {
  bytes: Buffer;
  mimeType: 'video/mp4';
  durationSeconds: number;
  /** The image model's id (`offline` offline). */
  modelId: string;
  speechModelId: string;
  /** True when the frame or the narration was made offline. */
  offline: boolean;
  width: number;
  height: number;
}

export interface MediaGateway {
  generateImage(request: ImageRequest): Promise<GeneratedImage>;
  synthesizeSpeech(request: SpeechRequest): Promise<GeneratedSpeech>;
  /** Undefined when no speech-to-text model is configured: offline has no transcription. */
  transcribe(request: TranscriptionRequest): Promise<Transcript | undefined>;
  /** No provider here has a video endpoint: a generated (or offline) frame with narration, as H.264/AAC MP4. */
  generateVideo(request: VideoRequest): Promise<GeneratedVideo>;
}

export interface MediaGatewayOptions {
  database: Database;
  config: Config;
  /** When given, model resolution goes through it (one place to change how models are chosen). */
  text?: ModelGateway;
}

type MediaPurpose = 'image' | 'speech' | 'transcription';

const VIDEO_FRAME = { width: 1280, height: 720 };
const MIN_FRAME_SIDE = 360;
const MIN_VIDEO_SECONDS = 2;
const VIDEO_TAIL_SECONDS = 0.5;

const IMAGE_TYPES: Record<string, GeneratedImage['mimeType']> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' };

export function imagePrompt(title: string | undefined, instructions: string[]): string {
  const lines = ['An illustration for a role-play practice scenario. No captions or lettering in the image.'];
  if (title?.trim()) lines.push(`Scene: ${title.trim()}.`);
  lines.push(...instructions.map((line) => line.trim()).filter(Boolean));
  return lines.join('\n');
}

/** What one speech call says at most: OpenAI's limit per request, and a bound on eSpeak's time on the main thread. */
const SPEECH_MAX_CHARS = 4096;
/** A video's narration says about half a minute, however long its instructions. */
const NARRATION_MAX_CHARS = 600;

/** `text` cut to at most `max` characters, at a word boundary when there is one in its second half. */
export function clipAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  // Not between the two halves of a surrogate pair (an emoji), where a text without spaces may be cut.
  const cut = text.slice(0, /[\ud800-\udbff]/.test(text[max - 1] ?? '') ? max - 1 : max);
  const lastSpace = cut.search(/\s\S*$/);
  return (lastSpace > max / 2 ? cut.slice(0, lastSpace) : cut).trimEnd();
}

function narrationFor(request: VideoRequest): string {
  const text = request.narrationText?.trim() || [request.title, ...request.instructions].map((line) => line?.trim()).filter(Boolean).join('. ') || 'A role-play practice scenario.';
  return clipAtWord(text, NARRATION_MAX_CHARS);
}

function parseSize(size: ImageSize | undefined): { width?: number; height?: number } {
  const match = size ? /^(\d+)x(\d+)$/.exec(size) : null;
  return match ? { width: Number(match[1]), height: Number(match[2]) } : {};
}

const clampSpeed = (speed: number | undefined) => (speed === undefined ? undefined : Math.min(4, Math.max(0.25, speed)));

/** A model that cannot be called as configured; becomes a ModelCallError of kind `configuration`. */
class MediaConfigurationError extends Error {}

/** Without a key the OpenAI client would send `Bearer ` (or fall back to OPENAI_API_KEY); a keyless server gets no Authorization header. */
const withoutAuthorization: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.delete('authorization');
  return fetch(input, { ...init, headers });
};

/** The OpenAI client for a model: OpenAI itself, or an OpenAI-compatible server speaking the same media wire. */
function openAIClientFor(model: ResolvedModel, config: Config) {
  const apiKey = apiKeyFor(model, config);
  if (model.providerKind === 'openai') {
    // An explicit key always: the SDK's fallback to OPENAI_API_KEY may not be the key the provider record names.
    if (!apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'openai');
    return createOpenAI({ apiKey, ...(model.baseUrl ? { baseURL: model.baseUrl } : {}) });
  }
  if (!model.baseUrl) throw new MediaConfigurationError(`Model ${model.modelId} has no base URL for its OpenAI-compatible server.`);
  if (model.apiKeyEnv && !apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'openai_compatible');
  return createOpenAI({ name: 'openai_compatible', baseURL: model.baseUrl, apiKey: apiKey ?? '', ...(apiKey ? {} : { fetch: withoutAuthorization }) });
}

function imageModelFor(model: ResolvedModel, config: Config): ImageModel {
  if (model.providerKind === 'openai_compatible') {
    const apiKey = apiKeyFor(model, config);
    if (!model.baseUrl) throw new MediaConfigurationError(`Model ${model.modelId} has no base URL for its OpenAI-compatible server.`);
    if (model.apiKeyEnv && !apiKey) throw new MissingApiKeyError(model.apiKeyEnv, 'openai_compatible');
    // The compatible image model always asks for b64_json; OpenAI's own omits it for gpt-image (always base64).
    return createOpenAICompatible({ name: 'openai_compatible', baseURL: model.baseUrl, ...(apiKey ? { apiKey } : {}) }).imageModel(model.modelName);
  }
  return openAIClientFor(model, config).image(model.modelName);
}

type ProviderTranscriptionModel = ReturnType<ReturnType<typeof createOpenAI>['transcription']>;

/** The SDK detects the upload's type from its bytes (WAV when unsure); the caller's declared type is better for WebM/Ogg recordings. */
function withMediaType(model: ProviderTranscriptionModel, mimeType: string): ProviderTranscriptionModel {
  if (!/^(audio|video)\//.test(mimeType)) return model;
  const mediaType = mimeType.split(';')[0]!.trim();
  return {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    doGenerate: (options: Parameters<ProviderTranscriptionModel['doGenerate']>[0]) => model.doGenerate({ ...options, mediaType }),
  };
}

/** Seconds of audio in a PCM WAV file, from its header; undefined when the header is not one. */
export function wavDurationSeconds(bytes: Buffer): number | undefined {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  let byteRate: number | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 12 <= bytes.length) byteRate = bytes.readUInt32LE(body + 8);
    if (id === 'data') {
      if (!byteRate) return undefined;
      // Streamed WAVs (OpenAI's among them) write 0xFFFFFFFF for a size they did not know yet.
      const available = Math.min(size, bytes.length - body);
      return available / byteRate;
    }
    offset = body + size + (size % 2);
  }
  return undefined;
}

function offlineVoiceLanguage(language: string | undefined): string | undefined {
  return language?.trim() ? language.trim().toLowerCase() : undefined;
}

export function createMediaGateway(options: MediaGatewayOptions): MediaGateway {
  const { database, config, text } = options;
  const limits = new ConcurrencyLimits();

  const resolve = (orgId: string, modelId: string | undefined, purpose: MediaPurpose): Promise<ResolvedModel> =>
    text ? text.resolveModel(orgId, modelId, purpose) : resolveModel(database, config, orgId, modelId, purpose);

  /** Runs one provider call under the model's timeout and the caller's signal; failures become ModelCallError (or the caller's abort reason). */
  async function call<T>(model: ResolvedModel, prompt: string, signal: AbortSignal | undefined, task: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const messages: ChatMessage[] = [{ role: 'user', text: prompt }];
    if (model.providerKind === 'anthropic') {
      throw new ModelCallError(`Model ${model.modelId} (${model.modelName}) is on Anthropic, which serves no images, speech or transcription; give it an OpenAI or OpenAI-compatible provider.`, 'configuration', messages, 0, 0);
    }
    const signals = callSignal(model.timeoutMs, signal);
    try {
      return await limits.run(model, () => task(signals.signal));
    } catch (error) {
      if (error instanceof MediaConfigurationError) throw new ModelCallError(error.message, 'configuration', messages, 0, 0, { cause: error });
      throw callFailure(error, model, { timeout: signals.timeout, caller: signal }, { messages, inputTokens: 0, outputTokens: 0 });
    }
  }

  const notMedia = (model: ResolvedModel, what: string, prompt: string, detail: string) =>
    new ModelCallError(`The model ${model.modelName} returned bytes that are not ${what}: ${detail}`, 'provider', [{ role: 'user', text: prompt }], 0, 0);

  async function generateImage(request: ImageRequest): Promise<GeneratedImage> {
    const model = await resolve(request.orgId, request.modelId, 'image');
    const prompt = request.prompt?.trim() || imagePrompt(request.title, request.instructions);
    if (model.providerKind === 'offline') {
      const bytes = await renderOfflineCard({ title: request.title ?? '', instructions: request.instructions, ...parseSize(request.size) });
      const metadata = await sharp(bytes).metadata();
      return { bytes, mimeType: 'image/png', modelId: model.modelId, offline: true, width: metadata.width ?? 0, height: metadata.height ?? 0 };
    }
    const result = await call(model, prompt, request.signal, (abortSignal) => generateImageWithModel({
      model: imageModelFor(model, config),
      prompt,
      n: 1,
      ...(request.size ? { size: request.size } : {}),
      maxRetries: MAX_RETRIES,
      abortSignal,
    }));
    const bytes = Buffer.from(result.image.uint8Array);
    let metadata: Metadata;
    try {
      metadata = await sharp(bytes).metadata();
    } catch (error) {
      throw notMedia(model, 'an image', prompt, `${error instanceof Error ? error.message : String(error)} (${bytes.length} bytes)`);
    }
    const mimeType = metadata.format ? IMAGE_TYPES[metadata.format] : undefined;
    if (!mimeType || !metadata.width || !metadata.height) throw notMedia(model, 'a PNG, JPEG, WebP or GIF image', prompt, `format ${metadata.format ?? 'unknown'}`);
    return { bytes, mimeType, modelId: model.modelId, offline: false, width: metadata.width, height: metadata.height };
  }

  async function synthesizeSpeech(requested: SpeechRequest): Promise<GeneratedSpeech> {
    const request = { ...requested, text: clipAtWord(requested.text, SPEECH_MAX_CHARS) };
    const model = await resolve(request.orgId, request.modelId, 'speech');
    if (model.providerKind === 'offline') {
      const language = offlineVoiceLanguage(request.voice?.language);
      const speech = await synthesizeSpeechOffline(request.text, { ...(language ? { language } : {}), ...(request.voice?.speed ? { speed: request.voice.speed } : {}) });
      return { bytes: speech.wav, mimeType: 'audio/wav', durationSeconds: speech.durationSeconds, modelId: model.modelId, offline: true };
    }
    const speed = clampSpeed(request.voice?.speed);
    const result = await call(model, request.text, request.signal, (abortSignal) => generateSpeech({
      model: openAIClientFor(model, config).speech(model.modelName),
      text: request.text,
      ...(request.voice?.voice_id ? { voice: request.voice.voice_id } : {}),
      ...(speed !== undefined ? { speed } : {}),
      // MP3: what OpenAI makes best and smallest; servers that only make WAV send WAV, and the bytes are sniffed either way.
      outputFormat: 'mp3',
      maxRetries: MAX_RETRIES,
      abortSignal,
    }));
    const bytes = Buffer.from(result.audio.uint8Array);
    const sniffed = await fileTypeFromBuffer(bytes);
    if (!sniffed || !sniffed.mime.startsWith('audio/')) {
      throw notMedia(model, 'audio', request.text, sniffed ? `found ${sniffed.mime}` : `unrecognised format (${bytes.length} bytes)`);
    }
    let durationSeconds = sniffed.mime === 'audio/wav' ? wavDurationSeconds(bytes) : undefined;
    if (durationSeconds === undefined) {
      const probed = await probeMedia(bytes);
      if (!probed.hasAudio) throw notMedia(model, 'playable audio', request.text, `${sniffed.mime} without an audio stream`);
      durationSeconds = probed.durationSeconds;
    }
    return { bytes, mimeType: sniffed.mime, durationSeconds, modelId: model.modelId, offline: false };
  }

  async function transcribeAudio(request: TranscriptionRequest): Promise<Transcript | undefined> {
    const model = await resolve(request.orgId, request.modelId, 'transcription');
    if (model.providerKind === 'offline') return undefined;
    const result = await call(model, `(${request.mimeType} audio, ${request.audio.length} bytes)`, request.signal, async (abortSignal) => {
      try {
        return await transcribe({
          model: withMediaType(openAIClientFor(model, config).transcription(model.modelName), request.mimeType),
          audio: request.audio,
          maxRetries: MAX_RETRIES,
          abortSignal,
        });
      } catch (error) {
        // The provider answered, with no words: silence, or noise. That is a transcript too.
        if (NoTranscriptGeneratedError.isInstance(error)) return { text: '' };
        throw error;
      }
    });
    return { text: result.text.trim(), modelId: model.modelId };
  }

  async function generateVideo(request: VideoRequest): Promise<GeneratedVideo> {
    const image = await generateImage({
      orgId: request.orgId, ...(request.modelId ? { modelId: request.modelId } : {}), ...(request.title ? { title: request.title } : {}),
      instructions: request.instructions, ...(request.signal ? { signal: request.signal } : {}),
    });
    const narration = await synthesizeSpeech({
      orgId: request.orgId, ...(request.speechModelId ? { modelId: request.speechModelId } : {}), text: narrationFor(request),
      ...(request.voice ? { voice: request.voice } : {}), ...(request.signal ? { signal: request.signal } : {}),
    });
    request.signal?.throwIfAborted();
    // A PNG frame within 1280x720 whatever the model drew (1536x1024, WebP...); a tiny one (a 1x1 from a test server) is enlarged.
    const tiny = Math.min(image.width, image.height) < MIN_FRAME_SIDE;
    const frame = await sharp(image.bytes)
      .resize(VIDEO_FRAME.width, VIDEO_FRAME.height, { fit: 'inside', withoutEnlargement: !tiny })
      .png()
      .toBuffer({ resolveWithObject: true });
    // A short tail after the last word, and never a blink of a video from a near-empty narration.
    const seconds = Math.max(MIN_VIDEO_SECONDS, (narration.durationSeconds ?? 0) + VIDEO_TAIL_SECONDS);
    const bytes = await composeVideo({ image: frame.data, narration: narration.bytes, seconds, ...(request.signal ? { signal: request.signal } : {}) });
    const probed = await probeMedia(bytes);
    if (!probed.hasVideo || probed.durationSeconds <= 0) throw new Error('The composed video has no video stream or no duration.');
    return {
      bytes, mimeType: 'video/mp4', durationSeconds: probed.durationSeconds, modelId: image.modelId, speechModelId: narration.modelId,
      offline: image.offline || narration.offline,
      // composeVideo rounds the frame down to even dimensions (yuv420p).
      width: frame.info.width - (frame.info.width % 2), height: frame.info.height - (frame.info.height % 2),
    };
  }

  return { generateImage, synthesizeSpeech, transcribe: transcribeAudio, generateVideo };
}
