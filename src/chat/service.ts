import type { z } from 'zod';
import type { Database, Executor } from '../db/database.ts';
import type { attemptFamily } from '../artifacts/families/attempt.ts';
import type { SimulationData } from '../artifacts/families/simulation.ts';
import type { ArtifactRecord, ArtifactService } from '../artifacts/service.ts';
import type { UploadReference } from '../artifacts/upload-links.ts';
import type { GenerateBody } from '../generation/http-schemas.ts';
import { requestHash, type GenerationService } from '../generation/service.ts';
import type { StoredRequest } from '../generation/stored-request.ts';
import { findArtifact } from '../artifacts/store.ts';
import { claimIdempotencyKey, findGroup, findIdempotencyEntry, insertGroup, insertMessage, type MessageUploads } from '../generation/store.ts';
import { badRequest, conflict, notFound } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { assertUploadsUsable, linkUploadsToMessage } from '../media/module.ts';
import type { ChatMessageBody, ChatMessageResponse, EndAttemptBody, StartAttemptBody } from './http-schemas.ts';
import { countLearnerAttempts, lockLearnerAttempts, turnsOfConversation } from './store.ts';

export type AttemptData = z.infer<(typeof attemptFamily)['data']>;

/** The kind of run (StoredRequest.handler) that makes a persona's reply. */
export const PERSONA_REPLY_RUN = 'chat.persona_reply';

/** The reply run's own input; the learner's turn it answers is the run's user message. */
export interface PersonaReplyInput {
  attempt_id: string;
}

const UPLOAD_FIELDS = [
  ['text_upload_ids', 'text'],
  ['audio_upload_ids', 'audio'],
  ['image_upload_ids', 'image'],
  ['video_upload_ids', 'video'],
  ['file_upload_ids', 'file'],
] as const;

/** Attempts: starting one from a simulation, and the learner's turns (each answered by a persona reply run). */
export class ChatService {
  constructor(
    private readonly database: Database,
    private readonly artifacts: ArtifactService,
    private readonly generation: GenerationService,
  ) {}

  /** A new attempt of the caller at `simulation_id`, with its own group for the transcript; 409 once the simulation's `max_attempts` are used. */
  async start(actor: Actor, body: StartAttemptBody): Promise<ArtifactRecord> {
    const simulation = await this.artifacts.get(actor, 'simulation', body.simulation_id);
    if (simulation.status !== 'published') {
      throw badRequest(`simulation ${simulation.id} is a draft; publish it before starting attempts.`, { field: 'simulation_id' });
    }
    const setup = simulation.data as SimulationData;
    // The learner must be able to read what the persona plays; the reply run reads them as the learner.
    await this.artifacts.get(actor, 'persona', setup.persona_id);
    await this.artifacts.get(actor, 'scenario', setup.scenario_id);
    return this.database.db.transaction().execute(async (trx) => {
      if (setup.max_attempts !== undefined) {
        await lockLearnerAttempts(trx, actor.profileId, simulation.id);
        if ((await countLearnerAttempts(trx, actor.orgId, actor.profileId, simulation.id)) >= setup.max_attempts) {
          throw conflict(`You have used all ${setup.max_attempts} attempts of simulation ${simulation.id}.`, { max_attempts: setup.max_attempts });
        }
      }
      const group = await insertGroup(trx, {
        orgId: actor.orgId,
        profileId: actor.profileId,
        sessionId: actor.sessionId,
        artifactType: 'attempt',
        name: clip(`${simulation.name} attempt`, 80),
        transcript: true,
      });
      const data: AttemptData = {
        simulation_id: simulation.id,
        learner_profile_id: actor.profileId,
        state: 'in_progress',
        group_id: group.id,
        persona_id: setup.persona_id,
        scenario_id: setup.scenario_id,
        ...(setup.rubric_id ? { rubric_id: setup.rubric_id } : {}),
        turn_count: 0,
        started_at: new Date().toISOString(),
      };
      return this.artifacts.create(actor, 'attempt', { name: clip(`${simulation.name} attempt`, 200), data }, { executor: trx, serverFlow: true });
    });
  }

  /**
   * Stores the learner's turn with its uploads and starts the persona's reply run, in one
   * transaction; answers before any model call. Upload ids must be visible to the caller (404)
   * and of the field's kind (400). The simulation's rules hold: past its `time_limit_minutes`
   * the attempt ends (409), and the turn that reaches `max_turns` is the last: its reply ends the
   * attempt, and a turn whose reply fails is given back (settleTurn).
   */
  async sendMessage(actor: Actor, body: ChatMessageBody): Promise<ChatMessageResponse> {
    const attempt = await this.ownAttempt(actor, body.attempt_id);
    // A retry of a turn already stored (the answer was lost on the way) is answered as the first
    // time, before the attempt's state: that turn may have been the one that ended it.
    const key = body.idempotency_key;
    const hash = key ? requestHash(body) : '';
    if (key) {
      const previous = await findIdempotencyEntry(this.database.db, actor.orgId, actor.profileId, key);
      if (previous) return replayTurn(previous, hash, key);
    }
    try {
      return await this.storeTurn(actor, attempt, body, key ? { key, hash } : undefined);
    } catch (error) {
      // The same key sent twice at once: the other request stored the turn (and may have ended the attempt with it).
      if (!key) throw error;
      const previous = await findIdempotencyEntry(this.database.db, actor.orgId, actor.profileId, key);
      if (!previous) throw error;
      return replayTurn(previous, hash, key);
    }
  }

  private async storeTurn(actor: Actor, attempt: ArtifactRecord, body: ChatMessageBody, idempotency: { key: string; hash: string } | undefined): Promise<ChatMessageResponse> {
    const data = attempt.data as AttemptData;
    if (data.state !== 'in_progress') throw notInProgress(attempt.id, data.state);
    const rules = await rulesOf(this.database.db, actor.orgId, data);
    const deadline = deadlineOf(rules, data);
    if (Date.now() > deadline) {
      throw await this.endedNow(actor, attempt.id, new Date(deadline).toISOString(), `its time limit of ${minutes(rules!.time_limit_minutes!)} had passed`);
    }
    // Nobody is left to answer: the attempt ends here rather than take turns that would fail.
    if (data.persona_id && !(await findArtifact(this.database.db, actor.orgId, 'persona', data.persona_id))) {
      throw await this.endedNow(actor, attempt.id, new Date().toISOString(), `its persona ${data.persona_id} was deleted, so nobody can answer`);
    }
    if (!data.group_id) throw conflict(`attempt ${attempt.id} has no conversation: it is a record written directly (generated, or by an admin), not started with attempt/start. Start an attempt of simulation ${data.simulation_id} to practise.`);
    const references: UploadReference[] = UPLOAD_FIELDS.map(([field, kind]) => ({ field, kind, ids: body[field] ?? [] })).filter((reference) => reference.ids.length > 0);
    // The turn's record names uploads by their upload ids, whichever id (upload or <kind>s_id) was sent.
    const uploadIdOf = await assertUploadsUsable(this.database.db, this.artifacts, actor, references);

    const groupId = data.group_id;
    const learnerProfileId = data.learner_profile_id ?? attempt.created_by;
    // The transcript group must be this learner's attempt group: a record pointing elsewhere must not reach another conversation.
    const group = await findGroup(this.database.db, groupId);
    if (!group || group.org_id !== actor.orgId || group.artifact_type !== 'attempt' || group.profile_id !== learnerProfileId) {
      throw conflict(`attempt ${attempt.id} names a conversation group that is not its own; start a new attempt.`);
    }
    const uploads: MessageUploads = Object.fromEntries(UPLOAD_FIELDS.map(([field]) => [field, dedupe((body[field] ?? []).map((id) => uploadIdOf.get(id) ?? id))]));
    const input: PersonaReplyInput = { attempt_id: attempt.id };
    const request: StoredRequest = {
      // The request that started the run, for its call record; a chat turn is not a generate body.
      body: body as unknown as GenerateBody,
      instructions: [],
      count: 1,
      modalities: ['text'],
      handler: { kind: PERSONA_REPLY_RUN, input: input as unknown as Record<string, unknown> },
    };
    // The reply belongs to the attempt's learner even when an admin sent the turn: the learner follows it and it acts as them.
    const { runId, prepared: messageId } = await this.startTurnRun(actor, attempt.id, () => this.generation.startRun(actor, { type: 'attempt', groupId, request, ownerProfileId: learnerProfileId }, async (executor, runId) => {
      // Turns sent at once are counted one at a time, against the attempt as the previous one left it.
      const current = ((await findArtifact(executor, actor.orgId, 'attempt', attempt.id, true))?.data ?? data) as AttemptData;
      if (current.state !== 'in_progress') throw notInProgress(attempt.id, current.state);
      const message = await insertMessage(executor, { runId, groupId, role: 'user', text: body.text ?? '', uploads });
      await linkUploadsToMessage(executor, { orgId: actor.orgId, messageId: message.id, readerProfileId: learnerProfileId, uploadIds: Object.values(uploads).flat() });
      // Counted from the conversation: turns whose reply failed or was cancelled are not taken.
      const { taken, pending } = await turnsOfConversation(executor, groupId, runId);
      if (rules !== undefined && taken >= rules.max_turns) throw new TurnsUsedUp(rules.max_turns, pending > 0);
      await this.artifacts.update(actor, 'attempt', { id: attempt.id, data: { ...current, turn_count: taken + 1 } }, { executor, serverFlow: true });
      if (idempotency) {
        const answer: ChatMessageResponse = { message_id: message.id, run_id: runId, group_id: groupId };
        const claim = await claimIdempotencyKey(executor, { orgId: actor.orgId, profileId: actor.profileId, key: idempotency.key, requestHash: idempotency.hash, response: answer as unknown as Record<string, unknown> });
        if (!claim.claimed) throw new TurnKeyTaken();
      }
      return message.id;
    }));
    return { message_id: messageId, run_id: runId, group_id: groupId };
  }

  /**
   * Starts a turn's reply run. Its turns used up: 409 while the last replies are still being
   * written (they end the attempt); with none coming, the attempt ends now (its last reply was
   * cancelled while queued, or the simulation's max_turns was lowered).
   */
  private async startTurnRun<T>(actor: Actor, attemptId: string, start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof TurnsUsedUp)) throw error;
      if (error.repliesComing) {
        throw conflict(`attempt ${attemptId} has used all ${error.maxTurns} turns; it ends when the persona's last reply is in (or end it with attempt/end).`, { state: 'in_progress', max_turns: error.maxTurns });
      }
      throw await this.endedNow(actor, attemptId, new Date().toISOString(), `its ${error.maxTurns} turns were used`);
    }
  }

  /** `attempt/end`: the learner (or an admin) is done; 409 when the attempt has already ended. */
  async end(actor: Actor, body: EndAttemptBody): Promise<ArtifactRecord> {
    const attempt = await this.ownAttempt(actor, body.attempt_id);
    const data = attempt.data as AttemptData;
    // Ended after its time limit ran out, it ended at that limit, as a turn sent then would record.
    const deadline = deadlineOf(await rulesOf(this.database.db, actor.orgId, data), data);
    const ended = await this.endAttempt(actor, attempt.id, new Date(Math.min(Date.now(), deadline)).toISOString());
    if (!ended) {
      const state = ((await this.artifacts.get(actor, 'attempt', attempt.id)).data as AttemptData).state;
      throw notInProgress(attempt.id, state, `attempt ${attempt.id} has already ended (${state}).`);
    }
    return ended;
  }

  /** Ends the attempt at `endedAt` and answers the turn that found it over: 409 saying why. */
  private async endedNow(actor: Actor, attemptId: string, endedAt: string, why: string) {
    await this.endAttempt(actor, attemptId, endedAt);
    return conflict(`attempt ${attemptId} ended at ${endedAt}: ${why}. Start a new attempt to keep practising.`, { state: 'completed', ended_at: endedAt });
  }

  private async endAttempt(actor: Actor, attemptId: string, endedAt: string): Promise<ArtifactRecord | undefined> {
    return endAttempt(this.database, this.artifacts, actor, attemptId, endedAt);
  }

  /** The attempt if the caller is its learner or an org admin; 404 for anyone else, as if it did not exist. */
  private async ownAttempt(actor: Actor, attemptId: string): Promise<ArtifactRecord> {
    const attempt = await this.artifacts.get(actor, 'attempt', attemptId);
    const learner = (attempt.data as AttemptData).learner_profile_id ?? attempt.created_by;
    if (actor.role !== 'admin' && learner !== actor.profileId) throw notFound('attempt', attemptId);
    return attempt;
  }
}

/**
 * The reply of run `runId` is in (`answered`), or it ended without one (the model failed, the
 * learner cancelled it): the attempt's `turn_count` is counted again from its conversation, so a
 * turn with no reply is given back and can be sent again. With its turns used up and no other
 * reply still coming, the attempt ends. Runs in the reply's fenced transaction; a recount, so
 * running it again (a re-executed run) changes nothing.
 */
export async function settleTurn(executor: Executor, artifacts: ArtifactService, actor: Actor, attemptId: string, runId: string, answered: boolean): Promise<void> {
  const attempt = await findArtifact(executor, actor.orgId, 'attempt', attemptId, true);
  const current = attempt?.data as AttemptData | undefined;
  if (current?.state !== 'in_progress' || !current.group_id) return;
  const others = await turnsOfConversation(executor, current.group_id, runId);
  const taken = others.taken + (answered ? 1 : 0);
  const rules = await rulesOf(executor, actor.orgId, current);
  const ends = rules !== undefined && taken >= rules.max_turns && others.pending === 0;
  if (!ends && taken === current.turn_count) return;
  // Its last reply came after the time limit: the attempt ended at the limit, as attempt/end records it.
  const ending = ends ? { state: 'completed' as const, ended_at: new Date(Math.min(Date.now(), deadlineOf(rules, current))).toISOString() } : {};
  await artifacts.update(actor, 'attempt', { id: attemptId, data: { ...current, turn_count: taken, ...ending } }, { executor, serverFlow: true });
}

/**
 * Ends an attempt that is still in progress, from its record as it is now (a turn committed
 * meanwhile keeps its count); undefined when it had already ended.
 */
export async function endAttempt(database: Database, artifacts: ArtifactService, actor: Actor, attemptId: string, endedAt: string): Promise<ArtifactRecord | undefined> {
  return database.db.transaction().execute(async (trx) => {
    const current = (await findArtifact(trx, actor.orgId, 'attempt', attemptId, true))?.data as AttemptData | undefined;
    if (current?.state !== 'in_progress') return undefined;
    return artifacts.update(actor, 'attempt', { id: attemptId, data: { ...current, state: 'completed', ended_at: endedAt } }, { executor: trx, serverFlow: true });
  });
}

class TurnKeyTaken extends Error {}

class TurnsUsedUp extends Error {
  constructor(readonly maxTurns: number, readonly repliesComing: boolean) {
    super(`all ${maxTurns} turns are used`);
  }
}

function replayTurn(previous: { request_hash: string; response: Record<string, unknown> }, hash: string, key: string): ChatMessageResponse {
  if (previous.request_hash !== hash || typeof previous.response.message_id !== 'string') {
    throw conflict(`idempotency_key ${key} was already used with a different request body.`, { idempotency_key: key });
  }
  return previous.response as unknown as ChatMessageResponse;
}

function notInProgress(attemptId: string, state: AttemptData['state'], message = `attempt ${attemptId} is ${state}; start a new attempt to keep practising.`) {
  return conflict(message, { state });
}

/** The simulation's rules as they are now; a deleted simulation leaves the attempt without limits. */
async function rulesOf(executor: Executor, orgId: string, data: AttemptData): Promise<SimulationData | undefined> {
  return (await findArtifact(executor, orgId, 'simulation', data.simulation_id))?.data as SimulationData | undefined;
}

/** When the attempt's time runs out (ms since the epoch); Infinity without a time limit. */
export function deadlineOf(rules: Pick<SimulationData, 'time_limit_minutes'> | undefined, data: Pick<AttemptData, 'started_at'>): number {
  return rules?.time_limit_minutes !== undefined && data.started_at ? Date.parse(data.started_at) + rules.time_limit_minutes * 60_000 : Infinity;
}

function minutes(count: number): string {
  return `${count} minute${count === 1 ? '' : 's'}`;
}

function dedupe(ids: string[]): string[] {
  return [...new Set(ids)];
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}
