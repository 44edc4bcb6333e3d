import type { ArtifactService } from '../artifacts/service.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import { badRequest, forbidden } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import type { ModelGateway } from '../llm/types.ts';
import type { MediaService } from '../media/module.ts';
import type { MediaModality } from './events.ts';
import type { GenerateBody } from './http-schemas.ts';
import { storedRequest, type StoredRequest } from './stored-request.ts';

/**
 * The media each family's generation can produce, and the `data` field that lists each asset.
 * `null`: the family has no such field; the asset is linked to the record (readable with it) and
 * shown in the run's message.
 */
export const FAMILY_MEDIA: Partial<Record<ArtifactType, Partial<Record<MediaModality, string | null>>>> = {
  scenario: { image: 'image_upload_ids', video: 'video_upload_ids' },
  persona: { audio: null },
};

/** The upload (or `audios_id` wrapper) id a request's `audio` names. */
export function spokenInputReference(audio: NonNullable<GenerateBody['audio']>): string {
  return 'upload_id' in audio ? audio.upload_id : audio.audios_id;
}

export function mediaModalities(request: Pick<StoredRequest, 'modalities'>): MediaModality[] {
  return request.modalities.filter((modality): modality is MediaModality => modality !== 'text');
}

/**
 * Trigger-time checks of a request that asks for media, so a caller's mistake is its 400/403/404
 * now rather than a failed run later: the family produces that modality, the media models exist,
 * and `config.params.artifact_id` names a record the caller may see (404) and change (403).
 */
export class MediaRequestCheck {
  constructor(
    private readonly artifacts: ArtifactService,
    private readonly gateway: ModelGateway,
    private readonly media: Pick<MediaService, 'findDownloadable'>,
  ) {}

  async check(actor: Actor, type: ArtifactType, body: GenerateBody): Promise<void> {
    // Spoken instructions: an audio upload the caller may read (else 404, as for a download).
    if (body.audio) await this.media.findDownloadable(actor, 'audio', spokenInputReference(body.audio));
    const params = body.config?.params;
    // The common trigger (text, no media model, nothing to attach to) has nothing to check.
    if (body.modality === undefined && body.modalities === undefined && params?.image_model_id === undefined && params?.speech_model_id === undefined && params?.artifact_id === undefined) {
      return;
    }
    const media = mediaModalities(storedRequest(body));
    const supported = FAMILY_MEDIA[type] ?? {};
    for (const modality of media) {
      if (!(modality in supported)) {
        const offered = Object.keys(supported);
        throw badRequest(
          `modality: ${type} generation cannot produce ${modality}${offered.length ? `; it produces ${offered.join(' or ')} (besides text)` : '; it produces text only'}.`,
          { field: 'modality' },
        );
      }
    }
    if (params?.image_model_id !== undefined) await this.resolve(actor, params.image_model_id, 'image', 'config.params.image_model_id');
    if (params?.speech_model_id !== undefined) await this.resolve(actor, params.speech_model_id, 'speech', 'config.params.speech_model_id');
    if (params?.artifact_id === undefined) return;
    if (body.audio) {
      throw badRequest('audio: spoken instructions shape a record being generated; a run that attaches media to config.params.artifact_id takes none.', { field: 'audio' });
    }
    if (media.length === 0) {
      throw badRequest('config.params.artifact_id: attaching to an existing record needs an image, video or audio modality.', { field: 'config.params.artifact_id' });
    }
    if ((params.count ?? 1) !== 1) {
      throw badRequest('config.params.count: a run that attaches media to config.params.artifact_id produces one set of assets; leave count out.', { field: 'config.params.count' });
    }
    const row = await this.artifacts.readRow(actor, type, params.artifact_id);
    if (actor.role !== 'admin' && row.created_by !== actor.profileId) {
      throw forbidden(`Only its author or an org admin may attach media to this ${type}.`);
    }
  }

  private async resolve(actor: Actor, modelId: string, purpose: 'image' | 'speech', field: string): Promise<void> {
    try {
      await this.gateway.resolveModel(actor.orgId, modelId, purpose);
    } catch (error) {
      const message = (error as Error).message.replace('config.params.model_id', field);
      throw badRequest(message, { field });
    }
  }
}
