import { v5 as uuidv5 } from 'uuid';
import { Coalescer } from '../db/coalescer.ts';
import type { Database, Executor } from '../db/database.ts';
import type { ArtifactService } from '../artifacts/service.ts';
import { familyOf } from '../artifacts/families/index.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import { AppError } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { ModelOutputError, type ChatMessage, type GeneratedArtifact, type ModelGateway, type ResolvedModel } from '../llm/types.ts';
import type { VoiceSettings } from '../llm/media.ts';
import { linkUploadsToArtifact, linkUploadsToMessage } from '../media/module.ts';
import { appendEvents } from '../streaming/event-log.ts';
import { completeEvent, errorEvent, progressEvent, savedEvent, type MediaModality, type RunEnvelope } from './events.ts';
import { costOf, endRun, type Usage } from './lifecycle.ts';
import { FAMILY_MEDIA, mediaModalities, spokenInputReference } from './media-request.ts';
import { MediaStepError, SpokenInputError, spokenInputMessageId, type MediaSpec, type MediaSteps, type MediaStepRun, type ProducedAsset } from './media-step.ts';
import { MissingDependencyError, resolveReferences } from './references.ts';
import type { StoredRequest } from './stored-request.ts';
import { addUsage, claimRuns, finishRun, insertMessage, insertMessages, messagesOfRun, releaseLease, renewLease, setTerminalSeq, type ClaimedRun, type RunRow } from './store.ts';

/** Namespace of produced artifact ids: uuid v5 of `<run id>/<resource index>`. */
const RESOURCE_ID_NAMESPACE = '5b0d1f0e-6f0c-4f7c-9d5e-2f4c8a9e7b31';

/** The artifact id resource `index` of run `runId` is saved under; the same on every attempt. */
export function resourceArtifactId(runId: string, index: number): string {
  return uuidv5(`${runId}/${index}`, RESOURCE_ID_NAMESPACE);
}

/** Why a running run was stopped from outside its own work. */
export class RunInterruption extends Error {
  constructor(readonly kind: 'cancelled' | 'lease_lost' | 'shutdown') {
    super(kind === 'cancelled' ? 'Cancelled by request before it finished.' : kind === 'lease_lost' ? 'Another worker took this run over.' : 'The server is shutting down.');
    this.name = 'RunInterruption';
  }
}

/** A resource (or the run as a whole) could not be produced; ends the run with an error event naming it. */
export class RunFailure extends Error {
  constructor(
    message: string,
    readonly resourceId: string,
    readonly messages: ChatMessage[] = [],
    readonly usage?: Usage,
    /** The error event's `resource_type` when it is not the run's family, and fields it adds (the failed `modality`). */
    readonly naming: { resourceType?: string; extra?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}

/** What a run handler is given: its run, the acting profile, and the fenced writes and media steps of the runner. */
export interface RunHandlerContext extends MediaStepRun {
  actor: Actor;
  media: MediaSteps;
}

export interface RunOutcome {
  /** The records the run produced or changed; the complete event names the first. */
  artifactIds: string[];
  message: string;
  /** The run already ended (completed, with its terminal event) in the transaction that saved its last resource. */
  ended?: boolean;
}

/** What an execution learnt on the way that its end must record even when it fails (the model it resolved). */
interface ExecutionState {
  modelId?: string;
}

/** Executes runs another concern defines (StoredRequest.handler); throws RunFailure to end the run with an error. */
export type RunHandler = (context: RunHandlerContext) => Promise<RunOutcome>;

export interface RunExecutorOptions {
  database: Database;
  artifacts: ArtifactService;
  gateway: ModelGateway;
  /** Identifies this process in `lease_owner` (each claim adds a token of its own). */
  ownerId: string;
  leaseMs: number;
  /** Attempts (worker deaths included) after which a run ends with an error instead of another try. */
  maxAttempts: number;
  /** Produces and stores generated images, videos and speech. */
  media: MediaSteps;
}

/** Executes runs in this process: claims the lease, produces each resource, ends the run once. */
export class RunExecutor {
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly handlers = new Map<string, RunHandler>();
  private closing = false;
  /**
   * Runs fetched together are claimed in one statement. Each run goes to its first claimant only,
   * should two ask for the same run in one batch. If the statement fails, each run is claimed on
   * its own, so one run's failure stays its own.
   */
  private readonly claims = new Coalescer<string, ClaimedRun | undefined>(
    async (runIds) => {
      const { database, ownerId, leaseMs } = this.options;
      const claimed = new Map((await claimRuns(database.db, [...new Set(runIds)], ownerId, leaseMs)).map((run) => [run.id, run]));
      return runIds.map((runId) => {
        const run = claimed.get(runId);
        claimed.delete(runId);
        return run;
      });
    },
    { retryAlone: true },
  );

  constructor(private readonly options: RunExecutorOptions) {}

  get ownerId(): string {
    return this.options.ownerId;
  }

  /** Lets another concern define a kind of run (chat replies): runs whose request names `kind` go to `handler`. */
  registerHandler(kind: string, handler: RunHandler): void {
    if (this.handlers.has(kind)) throw new Error(`A run handler for ${kind} is already registered.`);
    this.handlers.set(kind, handler);
  }

  /** The runs executing in this process. */
  runningHere(): string[] {
    return [...this.inFlight.keys()];
  }

  /** Aborts a run executing in this process; false when it is not here. */
  abort(runId: string, kind: RunInterruption['kind']): boolean {
    const entry = this.inFlight.get(runId);
    if (!entry) return false;
    entry.controller.abort(new RunInterruption(kind));
    return true;
  }

  /** Stops every run of this process, giving their leases up so another process resumes them at once. */
  async shutdown(): Promise<void> {
    this.closing = true;
    const entries = [...this.inFlight.values()];
    for (const entry of entries) entry.controller.abort(new RunInterruption('shutdown'));
    await Promise.allSettled(entries.map((entry) => entry.done));
  }

  async execute(runId: string): Promise<void> {
    const { database, leaseMs, maxAttempts } = this.options;
    const run = await this.claims.submit(runId);
    if (!run) return;
    const lease = run.lease_owner!;
    if (this.closing) {
      // Claimed while this process was stopping: hand it straight back for another process (or the restart).
      await releaseLease(database.db, run.id, lease);
      return;
    }
    const envelope: RunEnvelope = { orgId: run.org_id, groupId: run.group_id, runId: run.id, artifactType: run.artifact_type };
    if (run.attempts > maxAttempts) {
      const message = `Gave up after ${maxAttempts} attempts: the worker running it stopped each time.`;
      await endRun(database, run, 'error', { owner: lease }, errorEvent(envelope, run.artifact_type, run.id, message));
      return;
    }
    const controller = new AbortController();
    const state: ExecutionState = {};
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    this.inFlight.set(runId, { controller, done });
    const renewal = setInterval(() => {
      renewLease(database.db, runId, lease, leaseMs)
        .then((held) => {
          if (!held && !controller.signal.aborted) controller.abort(new RunInterruption('lease_lost'));
        })
        .catch(() => {
          // A failed renewal is retried at the next tick; the lease outlives two misses.
        });
    }, Math.max(200, Math.floor(leaseMs / 3)));
    try {
      if (run.cancel_requested) throw new RunInterruption('cancelled');
      const outcome = await this.produce(run, envelope, controller.signal, state);
      if (!outcome.ended) await endRun(database, run, 'completed', { owner: lease }, completeEvent(envelope, outcome.message, outcome.artifactIds));
    } catch (error) {
      await this.fail(run, envelope, controller.signal.aborted ? controller.signal.reason : error, state).catch(() => {
        // The database went away; the lease expires and the sweeper finishes the run elsewhere.
      });
    } finally {
      clearInterval(renewal);
      this.inFlight.delete(runId);
      finished();
    }
  }

  /** Runs `work` in a transaction that first renews the run's lease (and so locks its row): an execution that lost the run writes nothing. */
  private fenced<T>(run: RunRow, work: (executor: Executor) => Promise<T>): Promise<T> {
    const { database, leaseMs } = this.options;
    return database.db.transaction().execute(async (trx) => {
      if (!(await renewLease(trx, run.id, run.lease_owner!, leaseMs))) throw new RunInterruption('lease_lost');
      return work(trx);
    });
  }

  private stepOf(run: RunRow, envelope: RunEnvelope, signal: AbortSignal): MediaStepRun {
    return { run, envelope, signal, fenced: (work) => this.fenced(run, work) };
  }

  private async produce(run: ClaimedRun, envelope: RunEnvelope, signal: AbortSignal, state: ExecutionState): Promise<RunOutcome> {
    const request = run.request as StoredRequest;
    if (request.handler) {
      const handler = this.handlers.get(request.handler.kind);
      if (!handler) throw new RunFailure(`This server cannot execute ${request.handler.kind} runs.`, run.id);
      return handler({ ...this.stepOf(run, envelope, signal), actor: this.actorOf(run), media: this.options.media });
    }
    const media = mediaModalities(request);
    const attachTo = request.body.config?.params?.artifact_id;
    if (attachTo && media.length > 0) return this.attachMedia(run, envelope, signal, attachTo, media);
    return this.generateArtifacts(run, envelope, signal, media, state);
  }

  /**
   * The artifacts of a generate run, each with its media: the text first (a persona's voice speaks
   * its generated lines), then each asset, then the record saved with the assets' ids. When an
   * asset fails, the record is still saved without it and the run ends with an error naming it.
   */
  private async generateArtifacts(run: ClaimedRun, envelope: RunEnvelope, signal: AbortSignal, media: MediaModality[], state: ExecutionState): Promise<RunOutcome> {
    const { database, artifacts, gateway, leaseMs } = this.options;
    const request = run.request as StoredRequest;
    const type = run.artifact_type as ArtifactType;
    const family = familyOf(type);
    let model: ResolvedModel;
    try {
      // The org default came with the claim: no read of its own.
      model = await gateway.resolveModel(run.org_id, request.modelId, 'text', { orgDefault: run.default_text_model });
    } catch (error) {
      throw new RunFailure(`No usable model: ${(error as Error).message}`, run.id, userMessages(request));
    }
    let instructions = request.instructions;
    if (request.body.audio) {
      let spoken: string | undefined;
      try {
        spoken = await this.options.media.spokenInput(this.stepOf(run, envelope, signal), spokenInputReference(request.body.audio));
      } catch (error) {
        if (error instanceof SpokenInputError) throw new RunFailure(error.message, run.id, userMessages(request));
        throw error;
      }
      // The model reads the transcript after the typed instructions; the run's records keep them apart (the spoken message holds it).
      if (spoken) instructions = [...request.instructions, `Spoken instructions (transcribed): ${spoken}`];
    }
    // Recorded on the run by the statement that charges its usage or ends it (no write of its own).
    state.modelId = model.modelId;
    const actor = this.actorOf(run);
    const outcomeOf = (ids: string[]): RunOutcome => ({
      artifactIds: ids,
      message: ids.length === 1 ? `Saved ${run.artifact_type} ${ids[0]}.` : `Saved ${ids.length} ${run.artifact_type} artifacts.`,
    });

    const artifactIds: string[] = [];
    for (let index = 0; index < request.count; index += 1) {
      signal.throwIfAborted();
      const artifactId = resourceArtifactId(run.id, index);
      // Saved on an earlier attempt of this run (with its progress and saved events): keep it. (A first attempt has none.)
      const alreadySaved = run.attempts > 1 && (await database.db.selectFrom('artifacts').select('id').where('id', '=', artifactId).executeTakeFirst());
      if (alreadySaved) {
        artifactIds.push(artifactId);
        continue;
      }
      let generated: GeneratedArtifact;
      try {
        generated = await gateway.generateArtifact({
          family,
          instructions,
          ...(request.title !== undefined ? { title: request.title } : {}),
          index,
          model,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof ModelOutputError) {
          const usage = { modelId: model.modelId, inputTokens: error.inputTokens, outputTokens: error.outputTokens, cost: costOf(error.inputTokens, error.outputTokens, model) };
          throw new RunFailure(`The model's output for ${type} ${index + 1} of ${request.count} is unusable: ${error.message}`, artifactId, error.messages, usage);
        }
        throw new RunFailure(`The model call for ${type} ${index + 1} of ${request.count} failed: ${(error as Error).message}`, artifactId, userMessages(request));
      }
      const usage: Usage = {
        modelId: model.modelId,
        inputTokens: generated.inputTokens,
        outputTokens: generated.outputTokens,
        cost: costOf(generated.inputTokens, generated.outputTokens, model),
      };
      const assets: ProducedAsset[] = [];
      let mediaFailure: MediaStepError | undefined;
      for (const modality of media) {
        try {
          assets.push(await this.options.media.produce(this.stepOf(run, envelope, signal), mediaSpec(request, modality, artifactId, `${index}/${modality}`, generated)));
        } catch (error) {
          if (!(error instanceof MediaStepError)) throw error;
          mediaFailure = error;
          break;
        }
      }
      // The last resource, saved whole: the run ends (completed, with its terminal event) in the same transaction.
      const endsRun = index === request.count - 1 && !mediaFailure;
      try {
        await database.db.transaction().execute(async (trx) => {
          // Fence: this also locks the run row, so no takeover can interleave with the save. Ending
          // the run is the fence of its last save (the same lease-owner condition), usage charged with it.
          const fenced = endsRun
            ? await finishRun(trx, run.id, 'completed', { owner: run.lease_owner! }, { usage })
            : await renewLease(trx, run.id, run.lease_owner!, leaseMs);
          if (!fenced) throw new RunInterruption('lease_lost');
          const resolved = await resolveReferences(trx, { orgId: run.org_id, profileId: run.profile_id }, family, generated.data, instructions.join('\n'));
          const data = withMediaFields(type, resolved, assets);
          const record = await artifacts.create(
            actor,
            type,
            // A profile's or token's name is its data.name: one name, which the data holds.
            { name: family.nameInData && typeof data.name === 'string' ? data.name : clip(generated.name, 200) || `${type} ${index + 1}`, description: clip(generated.description, 5000), data },
            { executor: trx, id: artifactId },
          );
          await linkUnlistedMedia(trx, run, type, record.id, assets);
          const events = [
            progressEvent(envelope, index + 1, request.count, { resource_type: type, resource_id: record.id, index, name: record.name }),
            savedEvent(envelope, record.id),
          ];
          const mediaSummary = `Produced ${assets.map((asset) => asset.modality).join(' and ')} for ${type} ${record.id}.`;
          if (!endsRun) {
            await recordMessagesWithMedia(trx, run, generated.messages, assets, mediaSummary);
            await addUsage(trx, run.id, usage);
            await appendEvents(database, trx, events);
            return;
          }
          const outcome = outcomeOf([...artifactIds, record.id]);
          const stored = await appendEvents(database, trx, [...events, completeEvent(envelope, outcome.message, outcome.artifactIds)]);
          // Without media, the messages go in with the terminal seq (one statement).
          if (assets.length > 0) await recordMessagesWithMedia(trx, run, generated.messages, assets, mediaSummary);
          await setTerminalSeq(trx, run.id, stored.at(-1)!.seq, { groupId: run.group_id, messages: assets.length > 0 ? [] : generated.messages });
        });
      } catch (error) {
        if (error instanceof RunInterruption) throw error;
        const reason = error instanceof MissingDependencyError || error instanceof AppError ? error.message : `saving failed: ${(error as Error).message}`;
        throw new RunFailure(`Could not save ${type} ${index + 1} of ${request.count}: ${reason}`, artifactId, generated.messages, usage);
      }
      if (mediaFailure) {
        throw new RunFailure(`${mediaFailure.message} The ${type} ${artifactId} was saved without it.`, artifactId, [], undefined, { extra: { modality: mediaFailure.modality } });
      }
      artifactIds.push(artifactId);
      if (endsRun) return { ...outcomeOf(artifactIds), ended: true };
    }
    return outcomeOf(artifactIds);
  }

  /** `config.params.artifact_id`: only media, attached to an existing record (appended to its media field); no saved event. */
  private async attachMedia(run: ClaimedRun, envelope: RunEnvelope, signal: AbortSignal, artifactId: string, media: MediaModality[]): Promise<RunOutcome> {
    const { artifacts } = this.options;
    const request = run.request as StoredRequest;
    const type = run.artifact_type as ArtifactType;
    const actor = this.actorOf(run);
    const outcome = { artifactIds: [artifactId], message: `Attached ${media.join(' and ')} to ${type} ${artifactId}.` };
    // Executed again after its worker died past the point of attaching: already done.
    if ((await messagesOfRun(this.options.database.db, run.id)).some((message) => message.role === 'assistant')) return outcome;
    let record;
    try {
      record = await artifacts.get(actor, type, artifactId);
    } catch (error) {
      if (error instanceof AppError) throw new RunFailure(`${type} ${artifactId} is gone or no longer visible to the profile that started this run.`, artifactId, userMessages(request));
      throw error;
    }
    const assets: ProducedAsset[] = [];
    for (const modality of media) {
      try {
        assets.push(await this.options.media.produce(this.stepOf(run, envelope, signal), mediaSpec(request, modality, artifactId, `attach/${modality}`, record)));
      } catch (error) {
        if (!(error instanceof MediaStepError)) throw error;
        throw new RunFailure(error.message, artifactId, userMessages(request), undefined, { extra: { modality: error.modality } });
      }
    }
    try {
      await this.fenced(run, async (trx) => {
        const current = await artifacts.get(actor, type, artifactId, trx);
        const data = withMediaFields(type, current.data, assets);
        if (data !== current.data) await artifacts.update(actor, type, { id: artifactId, data }, { executor: trx });
        await linkUnlistedMedia(trx, run, type, artifactId, assets);
        await recordMessagesWithMedia(trx, run, userMessages(request), assets, outcome.message);
      });
    } catch (error) {
      if (error instanceof RunInterruption) throw error;
      throw new RunFailure(`Could not attach the media to ${type} ${artifactId}: ${(error as Error).message}`, artifactId, userMessages(request));
    }
    return outcome;
  }

  private async fail(run: RunRow, envelope: RunEnvelope, error: unknown, state: ExecutionState): Promise<void> {
    const { database } = this.options;
    const fence = { owner: run.lease_owner! };
    const model = state.modelId ? { modelId: state.modelId } : {};
    if (error instanceof RunInterruption) {
      if (error.kind === 'lease_lost') return;
      if (error.kind === 'shutdown') {
        await releaseLease(database.db, run.id, run.lease_owner!);
        return;
      }
      await endRun(database, run, 'cancelled', fence, errorEvent(envelope, run.artifact_type, run.id, error.message), {
        messages: await this.unrecordedUserMessages(run),
        ...model,
      });
      return;
    }
    if (error instanceof RunFailure) {
      // The failing resource's own exchange (raw model text included), so the group detail shows why.
      const event = errorEvent(envelope, error.naming.resourceType ?? run.artifact_type, error.resourceId, error.message, error.naming.extra);
      await endRun(database, run, 'error', fence, event, {
        messages: error.messages,
        ...model,
        ...(error.usage ? { usage: error.usage } : {}),
      });
      return;
    }
    await endRun(database, run, 'error', fence, errorEvent(envelope, run.artifact_type, run.id, `Generation failed: ${(error as Error)?.message ?? String(error)}`), {
      messages: await this.unrecordedUserMessages(run),
      ...model,
    });
  }

  /** The instructions as a user message, when nothing of the run was recorded yet. */
  private async unrecordedUserMessages(run: RunRow): Promise<ChatMessage[]> {
    // The spoken instructions' message is recorded first, on its own: it does not stand for the typed ones.
    const spokenId = spokenInputMessageId(run.id);
    const recorded = (await messagesOfRun(this.options.database.db, run.id)).filter((message) => message.id !== spokenId);
    return recorded.length > 0 ? [] : userMessages(run.request as StoredRequest);
  }

  /** The claim read the profile's role: no statement of its own. */
  private actorOf(run: ClaimedRun): Actor {
    if (!run.profile_role) throw new RunFailure('The profile that started this run no longer exists.', run.id);
    return { orgId: run.org_id, profileId: run.profile_id, role: run.profile_role, sessionId: run.session_id, isOperator: false };
  }
}

function userMessages(request: StoredRequest): ChatMessage[] {
  const text = [request.title ? `Title: ${request.title}` : undefined, ...request.instructions].filter(Boolean).join('\n');
  return text ? [{ role: 'user', text }] : [];
}

/** The record's data with each asset's upload id appended to the family's field for its modality (the same object when none applies). */
function withMediaFields(type: ArtifactType, data: Record<string, unknown>, assets: ProducedAsset[]): Record<string, unknown> {
  let result = data;
  for (const asset of assets) {
    const field = FAMILY_MEDIA[type]?.[asset.modality];
    if (!field) continue;
    const current = Array.isArray(result[field]) ? (result[field] as string[]) : [];
    if (current.includes(asset.uploadId)) continue;
    result = { ...result, [field]: [...current, asset.uploadId] };
  }
  return result;
}

/** Assets the family has no data field for (a persona's voice) become readable with the record through a link. */
async function linkUnlistedMedia(executor: Executor, run: RunRow, type: ArtifactType, artifactId: string, assets: ProducedAsset[]): Promise<void> {
  const unlisted = assets.filter((asset) => !FAMILY_MEDIA[type]?.[asset.modality]).map((asset) => asset.uploadId);
  await linkUploadsToArtifact(executor, { orgId: run.org_id, artifactId, uploadIds: unlisted });
}

const UPLOAD_FIELD: Record<MediaModality, 'image_upload_ids' | 'video_upload_ids' | 'audio_upload_ids'> = {
  image: 'image_upload_ids',
  video: 'video_upload_ids',
  audio: 'audio_upload_ids',
};

/**
 * The run's messages, the last assistant message carrying the assets' upload ids (a new assistant
 * message saying `summary` when there is none), linked so the run's profile can download them.
 */
async function recordMessagesWithMedia(executor: Executor, run: RunRow, messages: ChatMessage[], assets: ProducedAsset[], summary: string): Promise<void> {
  if (assets.length === 0) {
    await insertMessages(executor, run.id, run.group_id, messages);
    return;
  }
  const lastAssistant = messages.map((message) => message.role).lastIndexOf('assistant');
  const carrier = lastAssistant >= 0 ? lastAssistant : messages.length;
  const all = lastAssistant >= 0 ? messages : [...messages, { role: 'assistant' as const, text: summary }];
  const uploads: Record<string, string[]> = {};
  for (const asset of assets) (uploads[UPLOAD_FIELD[asset.modality]] ??= []).push(asset.uploadId);
  for (const [position, message] of all.entries()) {
    const row = await insertMessage(executor, { runId: run.id, groupId: run.group_id, role: message.role, text: message.text, ...(position === carrier ? { uploads } : {}) });
    if (position === carrier) {
      await linkUploadsToMessage(executor, { orgId: run.org_id, messageId: row.id, readerProfileId: run.profile_id, uploadIds: assets.map((asset) => asset.uploadId) });
    }
  }
}

/** What one asset of a record is made from: the request's title and instructions, else the record's own name and text. */
function mediaSpec(request: StoredRequest, modality: MediaModality, resourceId: string, key: string, source: { name: string; description: string; data: Record<string, unknown> }): MediaSpec {
  const params = request.body.config?.params;
  const voice = voiceOf(source.data);
  const instructions = request.instructions.length > 0 ? request.instructions : [source.description].filter((line) => line.trim().length > 0);
  return {
    modality,
    resourceId,
    key,
    title: request.title ?? source.name,
    instructions,
    ...(modality === 'audio' ? { speechText: speakingSample(source) } : {}),
    ...(voice ? { voice } : {}),
    ...(params?.image_model_id ? { imageModelId: params.image_model_id } : {}),
    ...(params?.speech_model_id ? { speechModelId: params.speech_model_id } : {}),
  };
}

/** A persona's voice sample says its opening line, else its description. */
function speakingSample(source: { name: string; description: string; data: Record<string, unknown> }): string {
  const opening = source.data.opening_line;
  if (typeof opening === 'string' && opening.trim()) return opening.trim();
  const description = typeof source.data.description === 'string' ? source.data.description : source.description;
  return description.trim() || source.name;
}

function voiceOf(data: Record<string, unknown>): VoiceSettings | undefined {
  const voice = data.voice as { voice_id?: unknown; speed?: unknown; language?: unknown } | undefined;
  if (!voice || typeof voice.voice_id !== 'string') return undefined;
  return {
    voice_id: voice.voice_id,
    ...(typeof voice.speed === 'number' ? { speed: voice.speed } : {}),
    ...(typeof voice.language === 'string' ? { language: voice.language } : {}),
  };
}

function clip(text: string, max: number): string {
  const flat = text.trim();
  return flat.length <= max ? flat : flat.slice(0, max);
}
