import { v5 as uuidv5 } from 'uuid';
import type { Database } from '../db/database.ts';
import type { ArtifactService } from '../artifacts/service.ts';
import { familyOf } from '../artifacts/families/index.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import { AppError } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { ModelOutputError, type ChatMessage, type GeneratedArtifact, type ModelGateway, type ResolvedModel } from '../llm/types.ts';
import { appendEvents } from '../streaming/event-log.ts';
import { completeEvent, errorEvent, progressEvent, savedEvent, type RunEnvelope } from './events.ts';
import { costOf, endRun, type Usage } from './lifecycle.ts';
import { MissingDependencyError, resolveReferences } from './references.ts';
import type { StoredRequest } from './stored-request.ts';
import { addUsage, claimRun, insertMessages, messagesOfRun, releaseLease, renewLease, setRunModel, type RunRow } from './store.ts';

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

/** A resource (or the run as a whole) could not be produced; ends the run with an error event. */
class RunFailure extends Error {
  constructor(
    message: string,
    readonly resourceId: string,
    readonly messages: ChatMessage[] = [],
    readonly usage?: Usage,
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}

export interface RunExecutorOptions {
  database: Database;
  artifacts: ArtifactService;
  gateway: ModelGateway;
  /** Identifies this process in `lease_owner`. */
  ownerId: string;
  leaseMs: number;
  /** Attempts (worker deaths included) after which a run ends with an error instead of another try. */
  maxAttempts: number;
}

/** Executes runs in this process: claims the lease, produces each resource, ends the run once. */
export class RunExecutor {
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();

  constructor(private readonly options: RunExecutorOptions) {}

  get ownerId(): string {
    return this.options.ownerId;
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
    const entries = [...this.inFlight.values()];
    for (const entry of entries) entry.controller.abort(new RunInterruption('shutdown'));
    await Promise.allSettled(entries.map((entry) => entry.done));
  }

  async execute(runId: string): Promise<void> {
    const { database, ownerId, leaseMs, maxAttempts } = this.options;
    const run = await claimRun(database.db, runId, ownerId, leaseMs);
    if (!run) return;
    const envelope: RunEnvelope = { orgId: run.org_id, groupId: run.group_id, runId: run.id, artifactType: run.artifact_type };
    if (run.attempts > maxAttempts) {
      const message = `Gave up after ${maxAttempts} attempts: the worker running it stopped each time.`;
      await endRun(database, run, 'error', { owner: ownerId }, errorEvent(envelope, run.artifact_type, run.id, message));
      return;
    }
    const controller = new AbortController();
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    this.inFlight.set(runId, { controller, done });
    const renewal = setInterval(() => {
      renewLease(database.db, runId, ownerId, leaseMs)
        .then((held) => {
          if (!held && !controller.signal.aborted) controller.abort(new RunInterruption('lease_lost'));
        })
        .catch(() => {
          // A failed renewal is retried at the next tick; the lease outlives two misses.
        });
    }, Math.max(200, Math.floor(leaseMs / 3)));
    try {
      if (run.cancel_requested) throw new RunInterruption('cancelled');
      const artifactIds = await this.produce(run, envelope, controller.signal);
      const message = artifactIds.length === 1 ? `Saved ${run.artifact_type} ${artifactIds[0]}.` : `Saved ${artifactIds.length} ${run.artifact_type} artifacts.`;
      await endRun(database, run, 'completed', { owner: ownerId }, completeEvent(envelope, message, artifactIds));
    } catch (error) {
      await this.fail(run, envelope, controller.signal.aborted ? controller.signal.reason : error).catch(() => {
        // The database went away; the lease expires and the sweeper finishes the run elsewhere.
      });
    } finally {
      clearInterval(renewal);
      this.inFlight.delete(runId);
      finished();
    }
  }

  private async produce(run: RunRow, envelope: RunEnvelope, signal: AbortSignal): Promise<string[]> {
    const { database, artifacts, gateway, ownerId, leaseMs } = this.options;
    const request = run.request as StoredRequest;
    const type = run.artifact_type as ArtifactType;
    const family = familyOf(type);
    const media = request.modalities.filter((modality) => modality !== 'text');
    if (media.length > 0) {
      throw new RunFailure(`Generating ${media.join(' and ')} is not available on this server yet; ask for modality "text".`, run.id, userMessages(request));
    }
    let model: ResolvedModel;
    try {
      model = await gateway.resolveModel(run.org_id, request.modelId, 'text');
    } catch (error) {
      throw new RunFailure(`No usable model: ${(error as Error).message}`, run.id, userMessages(request));
    }
    await setRunModel(database.db, run.id, model.modelId);
    const actor = await this.actorOf(run);

    const artifactIds: string[] = [];
    for (let index = 0; index < request.count; index += 1) {
      signal.throwIfAborted();
      const artifactId = resourceArtifactId(run.id, index);
      // Saved on an earlier attempt of this run (with its progress and saved events): keep it.
      const alreadySaved = await database.db.selectFrom('artifacts').select('id').where('id', '=', artifactId).executeTakeFirst();
      if (alreadySaved) {
        artifactIds.push(artifactId);
        continue;
      }
      let generated: GeneratedArtifact;
      try {
        generated = await gateway.generateArtifact({
          family,
          instructions: request.instructions,
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
      try {
        await database.db.transaction().execute(async (trx) => {
          // Fence: this also locks the run row, so no takeover can interleave with the save.
          if (!(await renewLease(trx, run.id, ownerId, leaseMs))) throw new RunInterruption('lease_lost');
          const data = await resolveReferences(trx, run.org_id, family, generated.data, request.instructions.join('\n'));
          const record = await artifacts.create(
            actor,
            type,
            { name: clip(generated.name, 200) || `${type} ${index + 1}`, description: clip(generated.description, 5000), data },
            { executor: trx, id: artifactId },
          );
          await insertMessages(trx, run.id, run.group_id, generated.messages);
          await addUsage(trx, run.id, usage);
          await appendEvents(database, trx, [
            progressEvent(envelope, index + 1, request.count, { resource_type: type, resource_id: record.id, index, name: record.name }),
            savedEvent(envelope, record.id),
          ]);
        });
      } catch (error) {
        if (error instanceof RunInterruption) throw error;
        const reason = error instanceof MissingDependencyError || error instanceof AppError ? error.message : `saving failed: ${(error as Error).message}`;
        throw new RunFailure(`Could not save ${type} ${index + 1} of ${request.count}: ${reason}`, artifactId, generated.messages, usage);
      }
      artifactIds.push(artifactId);
    }
    return artifactIds;
  }

  private async fail(run: RunRow, envelope: RunEnvelope, error: unknown): Promise<void> {
    const { database, ownerId } = this.options;
    const fence = { owner: ownerId };
    if (error instanceof RunInterruption) {
      if (error.kind === 'lease_lost') return;
      if (error.kind === 'shutdown') {
        await releaseLease(database.db, run.id, ownerId);
        return;
      }
      await endRun(database, run, 'cancelled', fence, errorEvent(envelope, run.artifact_type, run.id, error.message), {
        messages: await this.unrecordedUserMessages(run),
      });
      return;
    }
    if (error instanceof RunFailure) {
      // The failing resource's own exchange (raw model text included), so the group detail shows why.
      await endRun(database, run, 'error', fence, errorEvent(envelope, run.artifact_type, error.resourceId, error.message), {
        messages: error.messages,
        ...(error.usage ? { usage: error.usage } : {}),
      });
      return;
    }
    await endRun(database, run, 'error', fence, errorEvent(envelope, run.artifact_type, run.id, `Generation failed: ${(error as Error)?.message ?? String(error)}`), {
      messages: await this.unrecordedUserMessages(run),
    });
  }

  /** The instructions as a user message, when nothing of the run was recorded yet. */
  private async unrecordedUserMessages(run: RunRow): Promise<ChatMessage[]> {
    const recorded = await messagesOfRun(this.options.database.db, run.id);
    return recorded.length > 0 ? [] : userMessages(run.request as StoredRequest);
  }

  private async actorOf(run: RunRow): Promise<Actor> {
    const profile = await this.options.database.db
      .selectFrom('artifacts')
      .select('data')
      .where('id', '=', run.profile_id)
      .where('org_id', '=', run.org_id)
      .where('type', '=', 'profile')
      .executeTakeFirst();
    if (!profile) throw new RunFailure('The profile that started this run no longer exists.', run.id);
    return { orgId: run.org_id, profileId: run.profile_id, role: profile.data.role === 'admin' ? 'admin' : 'member', sessionId: run.session_id, isOperator: false };
  }
}

function userMessages(request: StoredRequest): ChatMessage[] {
  const text = [request.title ? `Title: ${request.title}` : undefined, ...request.instructions].filter(Boolean).join('\n');
  return text ? [{ role: 'user', text }] : [];
}

function clip(text: string, max: number): string {
  const flat = text.trim();
  return flat.length <= max ? flat : flat.slice(0, max);
}
