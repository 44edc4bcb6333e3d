import { buffer } from 'node:stream/consumers';
import { v5 as uuidv5 } from 'uuid';
import type { Database, Executor } from '../db/database.ts';
import type { UploadKind } from '../db/schema-media.ts';
import type { MediaGateway, Transcript, VoiceSettings } from '../llm/media.ts';
import { linkUploadsToMessage, type MediaService } from '../media/module.ts';
import { appendEvents } from '../streaming/event-log.ts';
import { mediaCompleteEvent, mediaProgressEvent, type MediaModality, type RunEnvelope } from './events.ts';
import { findMessage, hasMediaCompleteEvent, insertMessage, type RunRow } from './store.ts';

/** Namespace of the upload ids of generated assets: uuid v5 of `<run id>/media/<key>`. */
const MEDIA_UPLOAD_NAMESPACE = '0f6f3f4e-3c1a-4f55-9b3e-6c2d7a1e8b90';

const UPLOAD_KIND: Record<MediaModality, UploadKind> = { image: 'image', video: 'video', audio: 'audio' };
const FILE_EXTENSION: Record<string, string> = {
  'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif', 'video/mp4': 'mp4',
  'audio/wav': 'wav', 'audio/mpeg': 'mp3', 'audio/ogg': 'ogg', 'audio/webm': 'webm', 'audio/flac': 'flac', 'audio/aac': 'aac',
};

/** What one media step makes: an image or video of a scenario, a persona's voice, a reply's speech. */
export interface MediaSpec {
  modality: MediaModality;
  /** The record (or message) the asset belongs to: media events and produced_media name it as `resource_id`. */
  resourceId: string;
  /** Tells the assets of one run apart; the upload id derives from it, so an asset is stored once per run. */
  key: string;
  /** Display name of the asset (the request's `title`, or the record's name). */
  title?: string;
  instructions: string[];
  /** What is said: the speech of an audio asset, the narration of a video. */
  speechText?: string;
  voice?: VoiceSettings;
  imageModelId?: string;
  speechModelId?: string;
}

export interface ProducedAsset {
  modality: MediaModality;
  uploadId: string;
  mimeType: string;
  fileSize: number;
  resourceId: string;
}

/** A media step failed (the provider refused, the bytes were unusable): the run ends naming the resource. */
export class MediaStepError extends Error {
  constructor(
    readonly modality: MediaModality,
    readonly resourceId: string,
    message: string,
  ) {
    super(message);
    this.name = 'MediaStepError';
  }
}

const NOTHING_HEARD = '(spoken instructions: no speech was heard)';
const NOT_TRANSCRIBED = '(spoken instructions, not transcribed: no speech-to-text model is configured)';
/** The texts of a spoken-input message that carry no transcript. */
const SPOKEN_INPUT_NOTES = new Set([NOTHING_HEARD, NOT_TRANSCRIBED]);

/** The id of the message that records a run's spoken instructions (one per run). */
export function spokenInputMessageId(runId: string): string {
  return uuidv5(`${runId}/spoken-input`, MEDIA_UPLOAD_NAMESPACE);
}

/** A request's spoken instructions could not be used: the run ends with this message. */
export class SpokenInputError extends Error {
  override name = 'SpokenInputError';
}

/** What a media step needs of the run it belongs to. */
export interface MediaStepRun {
  run: RunRow;
  envelope: RunEnvelope;
  signal: AbortSignal;
  /** Runs `work` in a transaction that holds the run's lease, so a worker that lost the run writes nothing. */
  fenced<T>(work: (executor: Executor) => Promise<T>): Promise<T>;
}

export function mediaUploadId(runId: string, key: string): string {
  return uuidv5(`${runId}/media/${key}`, MEDIA_UPLOAD_NAMESPACE);
}

interface MadeAsset {
  bytes: Buffer;
  mimeType: string;
  modelId: string;
  offline: boolean;
}

/**
 * Produces one asset through the media gateway and stores it as an upload owned by the run's
 * profile, announcing it with media_progress `started`, `in_progress` and media_complete. The
 * upload id is derived from the run and the spec's key: executed again (its worker died), the run
 * finds the asset already stored and only announces it if that had not happened yet.
 */
export class MediaSteps {
  constructor(
    private readonly database: Database,
    private readonly gateway: MediaGateway,
    private readonly media: MediaService,
  ) {}

  /**
   * A request's spoken instructions (`audio`): recorded as a user message carrying the audio, its
   * text the transcript when a speech-to-text model is configured (resolved with the transcript),
   * else a note that it was not transcribed (resolved with undefined). Executed again, the run
   * transcribes again but records the message once.
   */
  async spokenInput(step: MediaStepRun, reference: string): Promise<string | undefined> {
    const { run, signal } = step;
    const messageId = spokenInputMessageId(run.id);
    // Executed again (its worker died): what was heard is recorded; no second transcription.
    const recorded = await findMessage(this.database.db, messageId);
    if (recorded) return SPOKEN_INPUT_NOTES.has(recorded.text) ? undefined : recorded.text;
    const upload = await this.media.findStoredUploadByAnyId(run.org_id, reference);
    if (!upload || upload.kind !== 'audio') throw new SpokenInputError(`The spoken instructions (audio ${reference}) are no longer stored.`);
    let transcript: Transcript | undefined;
    try {
      transcript = await this.gateway.transcribe({ orgId: run.org_id, audio: await buffer(await this.media.openBytes(upload)), mimeType: upload.mime_type, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new SpokenInputError(`Could not transcribe the spoken instructions (audio ${upload.id}): ${(error as Error).message}`);
    }
    const text = transcript?.text.trim() || undefined;
    const note = transcript ? NOTHING_HEARD : NOT_TRANSCRIBED;
    await step.fenced(async (trx) => {
      if (await findMessage(trx, messageId)) return;
      await insertMessage(trx, { id: messageId, runId: run.id, groupId: run.group_id, role: 'user', text: text ?? note, uploads: { audio_upload_ids: [upload.id] } });
      await linkUploadsToMessage(trx, { orgId: run.org_id, messageId, readerProfileId: run.profile_id, uploadIds: [upload.id] });
    });
    return text;
  }

  async produce(step: MediaStepRun, spec: MediaSpec): Promise<ProducedAsset> {
    const { run, envelope, signal } = step;
    const uploadId = mediaUploadId(run.id, spec.key);
    const stored = await this.media.findStoredUpload(run.org_id, uploadId);
    if (stored) {
      const asset = { modality: spec.modality, uploadId, mimeType: stored.mime_type, fileSize: stored.size, resourceId: spec.resourceId };
      if (!(await hasMediaCompleteEvent(this.database.db, run.id, uploadId))) await this.announce(step, asset);
      return asset;
    }

    const what = describe(spec);
    await step.fenced((trx) => appendEvents(this.database, trx, [mediaProgressEvent(envelope, spec.modality, 'started', `Started ${what}.`, spec.resourceId)]));
    await step.fenced((trx) =>
      appendEvents(this.database, trx, [mediaProgressEvent(envelope, spec.modality, 'in_progress', `${capitalize(progressVerb(spec.modality))} ${what}.`, spec.resourceId)]),
    );
    let made: MadeAsset;
    try {
      made = await this.make(run.org_id, spec, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new MediaStepError(spec.modality, spec.resourceId, `Could not make ${what}: ${(error as Error).message}`);
    }
    signal.throwIfAborted();
    await step.fenced((trx) =>
      appendEvents(this.database, trx, [
        mediaProgressEvent(
          envelope,
          spec.modality,
          'in_progress',
          // The watcher is told here, as it is of offline text: a placeholder is never presented as a model's work.
          made.offline
            ? `Storing ${what} (${made.bytes.length} bytes): a placeholder from the built-in offline generator, not a model's work.`
            : `Storing ${what} (${made.bytes.length} bytes).`,
          spec.resourceId,
        ),
      ]),
    );
    let ids: { uploadId: string };
    try {
      ids = await this.media.storeUpload({
        orgId: run.org_id,
        profileId: run.profile_id,
        kind: UPLOAD_KIND[spec.modality],
        mimeType: made.mimeType,
        bytes: made.bytes,
        uploadId,
        filename: `${slug(spec.title) || spec.modality}-${uploadId.slice(0, 8)}.${FILE_EXTENSION[made.mimeType] ?? 'bin'}`,
        name: spec.title ?? '',
        description: made.offline
          ? `Offline placeholder ${spec.modality} (the built-in offline generator, not a model), generated by run ${run.id}.`
          : `Generated by run ${run.id} with model ${made.modelId}.`,
      });
    } catch (error) {
      throw new MediaStepError(spec.modality, spec.resourceId, `Could not store ${what}: ${(error as Error).message}`);
    }
    const asset = { modality: spec.modality, uploadId: ids.uploadId, mimeType: made.mimeType, fileSize: made.bytes.length, resourceId: spec.resourceId };
    await this.announce(step, asset);
    return asset;
  }

  private async announce(step: MediaStepRun, asset: ProducedAsset): Promise<void> {
    await step.fenced((trx) =>
      appendEvents(this.database, trx, [
        mediaCompleteEvent(step.envelope, { modality: asset.modality, upload_id: asset.uploadId, file_size: asset.fileSize, mime_type: asset.mimeType, resource_id: asset.resourceId }),
      ]),
    );
  }

  private async make(orgId: string, spec: MediaSpec, signal: AbortSignal): Promise<MadeAsset> {
    const title = spec.title ? { title: spec.title } : {};
    const voice = spec.voice ? { voice: spec.voice } : {};
    switch (spec.modality) {
      case 'image': {
        const image = await this.gateway.generateImage({ orgId, ...(spec.imageModelId ? { modelId: spec.imageModelId } : {}), ...title, instructions: spec.instructions, signal });
        return { bytes: image.bytes, mimeType: image.mimeType, modelId: image.modelId, offline: image.offline };
      }
      case 'video': {
        const video = await this.gateway.generateVideo({
          orgId, ...(spec.imageModelId ? { modelId: spec.imageModelId } : {}), ...(spec.speechModelId ? { speechModelId: spec.speechModelId } : {}),
          ...title, instructions: spec.instructions, ...(spec.speechText ? { narrationText: spec.speechText } : {}), ...voice, signal,
        });
        return { bytes: video.bytes, mimeType: video.mimeType, modelId: video.modelId, offline: video.offline };
      }
      case 'audio': {
        const text = spec.speechText?.trim() || [spec.title, ...spec.instructions].filter(Boolean).join('. ');
        if (!text) throw new Error('there is no text to speak');
        const speech = await this.gateway.synthesizeSpeech({ orgId, ...(spec.speechModelId ? { modelId: spec.speechModelId } : {}), text, ...voice, signal });
        return { bytes: speech.bytes, mimeType: speech.mimeType, modelId: speech.modelId, offline: speech.offline };
      }
    }
  }
}

function describe(spec: MediaSpec): string {
  const noun = spec.modality === 'audio' ? 'the speech' : `the ${spec.modality}`;
  return spec.title ? `${noun} "${spec.title}"` : noun;
}

function progressVerb(modality: MediaModality): string {
  return modality === 'image' ? 'drawing' : modality === 'video' ? 'composing' : 'speaking';
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function slug(text: string | undefined): string {
  return (text ?? '').toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
}
