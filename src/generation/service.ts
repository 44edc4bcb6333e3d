import { hash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../config.ts';
import { Coalescer, REQUEST_SETTLE_MS } from '../db/coalescer.ts';
import type { Database, Executor } from '../db/database.ts';
import { TERMINAL_RUN_STATUSES } from '../db/schema-generation.ts';
import { familyOf } from '../artifacts/families/index.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import { conflict, forbidden, notFound } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import type { ModelGateway } from '../llm/types.ts';
import type { EventHub } from '../streaming/hub.ts';
import { errorEvent, isTerminalPayload } from './events.ts';
import type { GenerateBody, GenerateResponse, ProducedMedia } from './http-schemas.ts';
import { endRun } from './lifecycle.ts';
import type { RunQueue } from './queue.ts';
import type { RunExecutor } from './runner.ts';
import { storedRequest, type StoredRequest } from './stored-request.ts';
import {
  claimIdempotencyKey, findGroup, findIdempotencyEntry, findRun, insertGroup, insertGroups, insertRun, insertRuns, insertRunsInOpenWindows, openWindowGroups, requestCancel,
  touchGroup, type RunRow, type WindowKey,
} from './store.ts';

/** NOTIFY channel telling the process that runs a run to abort it. */
export const CANCEL_CHANNEL = 'glow_generation_cancel';

/** Thrown inside the trigger's transaction when a concurrent request claimed the same idempotency key first. */
class IdempotencyKeyTaken extends Error {}
class ClientRunIdTaken extends Error {}

/** Members see their own groups and runs; admins see their org's. */
export function canSee(actor: Actor, row: { org_id: string; profile_id: string }): boolean {
  return row.org_id === actor.orgId && (actor.role === 'admin' || row.profile_id === actor.profileId);
}

/** A run as `/<type>/…` sees it: visible to the actor and of that family (another family's run is not found there). */
export function canSeeRunAs(actor: Actor, type: string, run: { org_id: string; profile_id: string; artifact_type: string }): boolean {
  return canSee(actor, run) && run.artifact_type === type;
}

/** A caller's group window: one per profile, session and family (the advisory lock and the batch both key on it). */
function windowKey(profileId: string, sessionId: string, type: string): string {
  return `${profileId}:${sessionId}:${type}`;
}

/** A caller's group window, as the store reads and opens it. */
function windowOf(actor: Actor, type: ArtifactType): WindowKey {
  return { orgId: actor.orgId, profileId: actor.profileId, sessionId: actor.sessionId, artifactType: type };
}

/** Key order does not change what a request means, so it must not change its hash. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index += 1) out += (index > 0 ? ',' : '') + (canonicalJson(value[index]) ?? '');
    return `${out}]`;
  }
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    let out = '{';
    for (const key of Object.keys(object).sort()) {
      if (object[key] === undefined) continue;
      out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(object[key])}`;
    }
    return `${out}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(body: unknown): string {
  return hash('sha256', canonicalJson(body), 'hex');
}

function groupNameFor(type: ArtifactType, body: GenerateBody): string {
  const first = body.title ?? body.instructions?.[0];
  const flat = first?.replace(/\s+/g, ' ').trim();
  if (!flat) return `${type} generation`;
  return flat.length <= 80 ? flat : `${flat.slice(0, 79).trimEnd()}…`;
}

export interface GenerationServiceOptions {
  config: Config;
  database: Database;
  queue: RunQueue;
  hub: EventHub;
  executor: RunExecutor;
  gateway: ModelGateway;
  /** Checks a request's media part at trigger time (modality per family, media models, config.params.artifact_id). */
  mediaCheck?: { check(actor: Actor, type: ArtifactType, body: GenerateBody): Promise<void> };
}

/** A trigger with nothing that needs its own transaction: no idempotency key, client_run_id or explicit group. */
interface WindowTrigger {
  actor: Actor;
  type: ArtifactType;
  body: GenerateBody;
  hash: string;
}

/** Triggering, cancelling and awaiting runs. */
export class GenerationService {
  /**
   * Concurrent plain triggers share one transaction (group commit); each answers only after it
   * committed. On PostgreSQL a second batch starts while one is in flight, on a connection of its own.
   */
  private windowTriggerBatches?: Coalescer<WindowTrigger, GenerateResponse>;

  constructor(private readonly options: GenerationServiceOptions) {}

  private get windowSeconds(): number {
    return this.options.config.GLOW_GROUP_WINDOW_MINUTES * 60;
  }

  /** Made on first use: the operation catalogue builds this service without a database. */
  private get windowTriggers(): Coalescer<WindowTrigger, GenerateResponse> {
    this.windowTriggerBatches ??= new Coalescer((batch) => this.commitWindowTriggers(batch), {
      concurrency: this.options.database.parallelTransactions ? 2 : 1,
      retryAlone: true,
      settleMs: REQUEST_SETTLE_MS,
    });
    return this.windowTriggerBatches;
  }

  /** `onWaiting` is called when a wait_for_complete trigger, committed, starts waiting for its run. */
  async trigger(actor: Actor, type: ArtifactType, body: GenerateBody, onWaiting?: () => void): Promise<GenerateResponse> {
    const family = familyOf(type);
    if (family.writeRole === 'admin' && actor.role !== 'admin') {
      throw forbidden(`Only an org admin may generate ${family.plural}: saving one needs the right to create it.`);
    }
    const modelId = body.config?.params?.model_id;
    // Resolving reads the org's model records, no model call: a wrong model_id is the caller's 400 now, not a failed run later.
    if (modelId !== undefined) await this.options.gateway.resolveModel(actor.orgId, modelId, 'text');
    await this.options.mediaCheck?.check(actor, type, body);
    const hash = requestHash(body);
    const key = body.idempotency_key;
    if (!key && !body.client_run_id && !(body.group_id ?? body.config?.group_id)) {
      const response = await this.windowTriggers.submit({ actor, type, body, hash });
      return this.untilEndIfAsked(response, body, onWaiting);
    }
    if (key) {
      const previous = await findIdempotencyEntry(this.options.database.db, actor.orgId, actor.profileId, key);
      if (previous) return this.replay(previous, type, hash, body, onWaiting);
    }
    let response: GenerateResponse;
    try {
      response = await this.options.database.db.transaction().execute(async (trx) => {
        if (body.client_run_id && (await findRun(trx, body.client_run_id))) throw new ClientRunIdTaken();
        const group = await this.resolveGroup(trx, actor, type, body);
        const runId = body.client_run_id ?? uuidv7();
        await insertRun(trx, {
          id: runId,
          groupId: group.id,
          orgId: actor.orgId,
          artifactType: type,
          profileId: actor.profileId,
          sessionId: actor.sessionId,
          request: storedRequest(body) as unknown as Record<string, unknown>,
          requestHash: hash,
          ...(key ? { idempotencyKey: key } : {}),
          ...(body.config?.params?.agent_id ? { agentId: body.config.params.agent_id } : {}),
        });
        await this.options.queue.enqueue(runId, trx);
        const handles: GenerateResponse = { group_id: group.id, run_id: runId, produced_media: [], ...(key ? { idempotency_key: key } : {}) };
        if (key) {
          const claim = await claimIdempotencyKey(trx, { orgId: actor.orgId, profileId: actor.profileId, key, requestHash: hash, response: handles });
          if (!claim.claimed) throw new IdempotencyKeyTaken();
        }
        return handles;
      });
    } catch (error) {
      // A concurrent request with the same key won the race, whether it was its key or its
      // client_run_id (the same in both) that stopped this one: its answer is this one's too.
      const clientRunIdTaken = error instanceof ClientRunIdTaken || ((error as { code?: string }).code === '23505' && body.client_run_id);
      if (key && (error instanceof IdempotencyKeyTaken || clientRunIdTaken)) {
        const previous = await findIdempotencyEntry(this.options.database.db, actor.orgId, actor.profileId, key);
        if (previous) return this.replay(previous, type, hash, body);
      }
      if (clientRunIdTaken) {
        throw conflict(`client_run_id ${body.client_run_id} already names a run; mint a new one for each trigger.`);
      }
      throw error;
    }
    this.options.queue.wakeWorker();
    return this.untilEndIfAsked(response, body, onWaiting);
  }

  /**
   * Commits a batch of window triggers in one transaction: one statement inserts the runs whose
   * window group stays open for 10 s more into it (refreshing those due); the other keys, if any,
   * are locked, their windows read (and refreshed) or opened, and their runs inserted; then the
   * jobs. If the batch fails, each trigger is retried alone, so one bad trigger fails only its own
   * request.
   */
  private async commitWindowTriggers(batch: WindowTrigger[]): Promise<GenerateResponse[]> {
    const { database, queue } = this.options;
    const runs = batch.map((item) => ({
      item,
      key: windowKey(item.actor.profileId, item.actor.sessionId, item.type),
      run: {
        id: uuidv7(),
        orgId: item.actor.orgId,
        artifactType: item.type,
        profileId: item.actor.profileId,
        sessionId: item.actor.sessionId,
        request: storedRequest(item.body) as unknown as Record<string, unknown>,
        requestHash: item.hash,
        ...(item.body.config?.params?.agent_id ? { agentId: item.body.config.params.agent_id } : {}),
      },
    }));
    const responses = await database.db.transaction().execute(async (trx) => {
      const windowSeconds = this.windowSeconds;
      const groupOf = new Map<string, string>();
      const placeIn = (groups: { id: string; profile_id: string; session_id: string; artifact_type: string }[]) => {
        for (const group of groups) groupOf.set(windowKey(group.profile_id, group.session_id, group.artifact_type), group.id);
      };
      placeIn(await insertRunsInOpenWindows(trx, runs.map(({ run }) => run), windowSeconds));
      const unplaced = runs.filter(({ key }) => !groupOf.has(key));
      if (unplaced.length > 0) {
        const firstOfKey = new Map<string, WindowTrigger>();
        for (const { item, key } of unplaced) if (!firstOfKey.has(key)) firstOfKey.set(key, item);
        await this.lockWindows(trx, [...firstOfKey.keys()]);
        // Another transaction may have opened or refreshed the window while this one waited for its lock.
        placeIn(await openWindowGroups(trx, [...firstOfKey.values()].map((item) => windowOf(item.actor, item.type)), windowSeconds));
        const fresh = [...firstOfKey].filter(([key]) => !groupOf.has(key));
        const created = await insertGroups(trx, fresh.map(([, item]) => ({ ...windowOf(item.actor, item.type), name: groupNameFor(item.type, item.body) })));
        fresh.forEach(([key], index) => groupOf.set(key, created[index]!.id));
        await insertRuns(trx, unplaced.map(({ key, run }) => ({ ...run, groupId: groupOf.get(key)! })));
      }
      await queue.enqueueMany(runs.map(({ run }) => run.id), trx);
      return runs.map(({ key, run }) => ({ group_id: groupOf.get(key)!, run_id: run.id, produced_media: [] as ProducedMedia[] }));
    });
    queue.wakeWorker();
    return responses;
  }

  private async replay(previous: { request_hash: string; response: GenerateResponse }, type: ArtifactType, hash: string, body: GenerateBody, onWaiting?: () => void): Promise<GenerateResponse> {
    if (previous.request_hash !== hash) {
      throw conflict(`idempotency_key ${body.idempotency_key} was already used with a different request body.`, { idempotency_key: body.idempotency_key });
    }
    // The same body sent to another family's route is another request: its handles would name a
    // run that route cannot watch or cancel.
    const run = await findRun(this.options.database.db, previous.response.run_id);
    if (run && run.artifact_type !== type) {
      throw conflict(`idempotency_key ${body.idempotency_key} was already used for a ${run.artifact_type} generation; use a new key for this ${type} one.`, { idempotency_key: body.idempotency_key });
    }
    const response = { ...previous.response, produced_media: [...(previous.response.produced_media ?? [])] };
    return this.untilEndIfAsked(response, body, onWaiting);
  }

  private async resolveGroup(trx: Executor, actor: Actor, type: ArtifactType, body: GenerateBody): Promise<{ id: string }> {
    const explicit = body.group_id ?? body.config?.group_id;
    if (explicit) {
      const group = await findGroup(trx, explicit);
      if (!group || !canSee(actor, group)) throw notFound('generation group', explicit);
      // A member sees the runs of their groups that are theirs: another's run there would show in
      // the group's stream and search but nowhere else. So runs go only into one's own groups.
      if (group.profile_id !== actor.profileId) {
        throw forbidden(`Generation group ${explicit} is another profile's: an admin sees the org's groups but adds runs only to their own.`);
      }
      // A transcript's runs are the conversation the persona's model reads back: a generation there
      // would put made-up turns into it.
      if (group.transcript) {
        throw conflict(`Generation group ${explicit} is an attempt's transcript: only attempt/chat_message adds to it. Leave group_id out to generate in your own window.`, { field: body.group_id ? 'group_id' : 'config.group_id' });
      }
      await touchGroup(trx, group.id);
      return group;
    }
    const window = windowOf(actor, type);
    await this.lockWindows(trx, [windowKey(actor.profileId, actor.sessionId, type)]);
    const [current] = await openWindowGroups(trx, [window], this.windowSeconds);
    if (current) return current;
    return insertGroup(trx, { ...window, name: groupNameFor(type, body) });
  }

  /**
   * Two triggers racing in one session must land in the same window, not open one each: the window
   * keys are locked for the transaction, in the order of the lock ids (so two batches never take
   * two of them in opposite orders). Where transactions never overlap (PGlite) there is nothing to
   * serialize.
   */
  private async lockWindows(trx: Executor, keys: string[]): Promise<void> {
    if (!this.options.database.parallelTransactions) return;
    await this.options.database.executeSql(
      'SELECT pg_advisory_xact_lock(lock_id) FROM (SELECT DISTINCT hashtextextended(k, 11) AS lock_id FROM unnest($1::text[]) AS k ORDER BY 1) AS window_locks',
      [keys],
      trx,
    );
  }

  /** With wait_for_complete, the response once the run has ended (its status, message and media). */
  private async untilEndIfAsked(response: GenerateResponse, body: GenerateBody, onWaiting?: () => void): Promise<GenerateResponse> {
    if (!body.wait_for_complete) return response;
    onWaiting?.();
    return Object.assign(response, await this.waitForEnd(response.group_id, response.run_id));
  }

  /**
   * Resolves when the run's terminal event is committed: the media it produced, and how it ended
   * (a caller that waited has no stream to tell it).
   */
  async waitForEnd(groupId: string, runId: string): Promise<Pick<GenerateResponse, 'produced_media' | 'status' | 'message'>> {
    const { media, message } = await new Promise<{ media: ProducedMedia[]; message: string }>((resolve) => {
      const media: ProducedMedia[] = [];
      const subscription = this.options.hub.subscribe({ groupId, runId }, 0, (events) => {
        for (const event of events) {
          const payload = event.payload;
          if (payload.type === 'GenerationMediaCompleteEvent') {
            media.push({
              modality: String(payload.modality),
              upload_id: String(payload.upload_id),
              resource_id: String(payload.resource_id),
              mime_type: String(payload.mime_type),
              file_size: Number(payload.file_size),
            });
          }
          if (isTerminalPayload(payload)) {
            subscription.close();
            resolve({ media, message: String(payload.message ?? '') });
            return;
          }
        }
      });
    });
    // The run's status says cancelled apart from error; its terminal event is committed with it.
    const run = await findRun(this.options.database.db, runId);
    const status = run && TERMINAL_RUN_STATUSES.includes(run.status) ? (run.status as 'completed' | 'error' | 'cancelled') : 'error';
    return { produced_media: media, status, message };
  }

  /**
   * Starts a run another concern defines (a chat reply, StoredRequest.handler) in an existing group
   * the caller may use. `prepare` writes that concern's rows (the learner's message) in the same
   * transaction as the run and its job, so the worker always finds them. The run is
   * `ownerProfileId`'s (by default the caller's): it is listed, watched and executed as theirs.
   */
  async startRun<T>(
    actor: Actor,
    input: { type: ArtifactType; groupId: string; request: StoredRequest; ownerProfileId?: string },
    prepare: (executor: Executor, runId: string) => Promise<T>,
  ): Promise<{ runId: string; prepared: T }> {
    const runId = uuidv7();
    const prepared = await this.options.database.db.transaction().execute(async (trx) => {
      await insertRun(trx, {
        id: runId,
        groupId: input.groupId,
        orgId: actor.orgId,
        artifactType: input.type,
        profileId: input.ownerProfileId ?? actor.profileId,
        sessionId: actor.sessionId,
        request: input.request as unknown as Record<string, unknown>,
        requestHash: requestHash(input.request),
      });
      const result = await prepare(trx, runId);
      await touchGroup(trx, input.groupId);
      await this.options.queue.enqueue(runId, trx);
      return result;
    });
    this.options.queue.wakeWorker();
    return { runId, prepared };
  }

  /** `POST /<type>/cancel`: a run of another family is not found under this one. */
  async cancel(actor: Actor, type: ArtifactType, runId: string): Promise<{ run_id: string; status: 'cancelled' | 'cancelling' }> {
    const { database } = this.options;
    const run = await findRun(database.db, runId);
    if (!run || !canSeeRunAs(actor, type, run)) throw notFound(`${type} run`, runId);
    if (TERMINAL_RUN_STATUSES.includes(run.status)) throw conflict(`Run ${runId} already ended (${run.status}); there is nothing to cancel.`, { status: run.status });
    if (run.status === 'queued') {
      const event = errorEvent(envelopeOf(run), run.artifact_type, run.id, 'Cancelled by request before it started.');
      if (await endRun(database, run, 'cancelled', { queuedOnly: true }, event)) return { run_id: runId, status: 'cancelled' };
    }
    await requestCancel(database.db, runId);
    const current = await findRun(database.db, runId);
    if (current && TERMINAL_RUN_STATUSES.includes(current.status) && current.status !== 'cancelled') {
      throw conflict(`Run ${runId} already ended (${current.status}); there is nothing to cancel.`, { status: current.status });
    }
    if (!this.options.executor.abort(runId, 'cancelled')) {
      await database.executeSql('SELECT pg_notify($1, $2)', [CANCEL_CHANNEL, runId]);
    }
    return { run_id: runId, status: current?.status === 'cancelled' ? 'cancelled' : 'cancelling' };
  }
}

export function envelopeOf(run: RunRow) {
  return { orgId: run.org_id, groupId: run.group_id, runId: run.id, artifactType: run.artifact_type };
}
