import { sql, type RawBuilder, type Selectable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Executor } from '../db/database.ts';
import type { GenerationGroupsTable, GenerationMessagesTable, GenerationRunsTable, RunStatus } from '../db/schema-generation.ts';
import type { ArtifactRow } from '../artifacts/store.ts';
import type { ChatMessage } from '../llm/types.ts';

export type GroupRow = Selectable<GenerationGroupsTable>;
export type RunRow = Selectable<GenerationRunsTable>;
export type MessageRow = Selectable<GenerationMessagesTable>;

const UNFINISHED: RunStatus[] = ['queued', 'running'];

// ---- groups

export async function findGroup(executor: Executor, id: string): Promise<GroupRow | undefined> {
  return executor.selectFrom('generation_groups').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * A group's activity time is refreshed once it is older than this plus a spread of up to as much
 * again, fixed per group (from its id): a busy session's triggers do not each rewrite its row, and
 * the groups of sessions that started together (a class) are not all rewritten by the same burst.
 */
const ACTIVITY_REFRESH_SECONDS = 10;

/**
 * A group whose window stays open for at least this much longer is joined without the window
 * lock: it outlives any trigger transaction, so no transaction can find it closed and open another.
 */
const WINDOW_EDGE_SECONDS = 10;

export interface WindowKey {
  orgId: string;
  profileId: string;
  sessionId: string;
  artifactType: string;
}

/**
 * For each key of `keys` (a relation named k, of org_id, profile_id, session_id and artifact_type),
 * its window group with the newest activity, if that activity is at or after `activeSince`.
 */
function newestWindowGroups(keys: RawBuilder<unknown>, activeSince: RawBuilder<unknown>) {
  return sql`
    SELECT DISTINCT ON (g.profile_id, g.session_id, g.artifact_type) g.id, g.profile_id, g.session_id, g.artifact_type, g.last_activity_at
    FROM generation_groups g
    JOIN ${keys} ON g.org_id = k.org_id AND g.profile_id = k.profile_id AND g.session_id = k.session_id AND g.artifact_type = k.artifact_type
    WHERE g.last_activity_at >= ${activeSince} AND NOT g.transcript
    ORDER BY g.profile_id, g.session_id, g.artifact_type, g.last_activity_at DESC`;
}

/**
 * A data-modifying CTE body that refreshes the activity of the groups of `groups` (a CTE of id and
 * last_activity_at) whose refresh is due. A group row another transaction holds is skipped, not
 * waited for: that transaction is refreshing it, and a trigger that never waits for a group row
 * cannot deadlock with another that holds one.
 */
function refreshActivity(groups: RawBuilder<unknown>) {
  return sql`
    UPDATE generation_groups SET last_activity_at = now()
    WHERE id IN (
      SELECT d.id FROM generation_groups d
      WHERE d.id IN (
        SELECT id FROM ${groups}
        WHERE last_activity_at < now() - make_interval(secs => ${ACTIVITY_REFRESH_SECONDS} * (1 + get_byte(uuid_send(id), 15) / 256.0))
      )
      FOR NO KEY UPDATE SKIP LOCKED
    )`;
}

/**
 * The open window group of each key (active in the last `windowSeconds`), in one statement that
 * also refreshes the activity of those due (refreshActivity). Keys without an open group are
 * absent. Call it holding the keys' window locks.
 */
export async function openWindowGroups(
  executor: Executor,
  keys: WindowKey[],
  windowSeconds: number,
): Promise<Pick<GroupRow, 'id' | 'profile_id' | 'session_id' | 'artifact_type'>[]> {
  if (keys.length === 0) return [];
  const rows = keys.map((key) => ({ org_id: key.orgId, profile_id: key.profileId, session_id: key.sessionId, artifact_type: key.artifactType }));
  const result = await sql<Pick<GroupRow, 'id' | 'profile_id' | 'session_id' | 'artifact_type'>>`
    WITH open AS (${newestWindowGroups(
      sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS k (org_id uuid, profile_id uuid, session_id uuid, artifact_type text)`,
      sql`now() - make_interval(secs => ${windowSeconds})`,
    )}), refreshed AS (${refreshActivity(sql`open`)})
    SELECT id, profile_id, session_id, artifact_type FROM open`.execute(executor);
  return result.rows;
}

interface NewGroup {
  orgId: string;
  profileId: string;
  sessionId: string;
  artifactType: string;
  name: string;
  /** An attempt's conversation: no generation window joins it. */
  transcript?: boolean;
}

function groupValues(group: NewGroup) {
  return {
    id: uuidv7(),
    org_id: group.orgId,
    profile_id: group.profileId,
    session_id: group.sessionId,
    artifact_type: group.artifactType,
    name: group.name,
    ...(group.transcript ? { transcript: true } : {}),
  };
}

export async function insertGroups(executor: Executor, groups: NewGroup[]): Promise<{ id: string }[]> {
  if (groups.length === 0) return [];
  const values = groups.map(groupValues);
  await executor.insertInto('generation_groups').values(values).execute();
  return values.map((value) => ({ id: value.id }));
}

export async function insertGroup(executor: Executor, group: NewGroup): Promise<GroupRow> {
  return executor.insertInto('generation_groups').values(groupValues(group)).returningAll().executeTakeFirstOrThrow();
}

export async function touchGroup(executor: Executor, id: string): Promise<void> {
  await executor.updateTable('generation_groups').set({ last_activity_at: sql<Date>`now()` as any }).where('id', '=', id).execute();
}

export interface GroupListing {
  orgId: string;
  artifactType: string;
  /** Only this profile's groups (members); undefined: the whole org (admins). */
  profileId?: string;
  search?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
}

export async function listGroups(executor: Executor, listing: GroupListing): Promise<{ rows: GroupRow[]; total: number }> {
  let query = executor.selectFrom('generation_groups').where('org_id', '=', listing.orgId).where('artifact_type', '=', listing.artifactType);
  if (listing.profileId) query = query.where('profile_id', '=', listing.profileId);
  if (listing.search) {
    // The group's name is its first run's request; the runs that joined it later are searched too.
    const pattern = `%${listing.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb('name', 'ilike', pattern),
        eb.exists(
          eb
            .selectFrom('generation_runs as r')
            .select(sql.lit(1).as('one'))
            .whereRef('r.group_id', '=', 'generation_groups.id')
            .where((inner) =>
              inner.or([
                inner(sql<string>`r.request->>'title'`, 'ilike', pattern),
                // Each instruction on its own, as text (not the array's JSON, with its quotes and escapes).
                inner.exists(sql`(SELECT 1 FROM jsonb_array_elements_text(r.request->'instructions') AS i (text) WHERE i.text ILIKE ${pattern})`),
              ]),
            ),
        ),
      ]),
    );
  }
  if (listing.from) query = query.where('created_at', '>=', listing.from);
  if (listing.to) query = query.where('created_at', '<=', listing.to);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(listing.limit).offset(listing.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.total) };
}

// ---- runs

export interface NewRun {
  id: string;
  groupId: string;
  orgId: string;
  artifactType: string;
  profileId: string;
  sessionId: string;
  request: Record<string, unknown>;
  requestHash: string;
  idempotencyKey?: string;
  agentId?: string;
}

/** A run of the caller's group window: its group is the window's open group, if there is one. */
export type WindowRun = Omit<NewRun, 'groupId'>;

/** A run's row; `groupId` null leaves the group to the statement (insertRunsInOpenWindows). */
function runValues<G extends string | null>(run: WindowRun, groupId: G) {
  return {
    id: run.id,
    group_id: groupId,
    org_id: run.orgId,
    artifact_type: run.artifactType,
    profile_id: run.profileId,
    session_id: run.sessionId,
    status: 'queued' as const,
    request: run.request,
    request_hash: run.requestHash,
    idempotency_key: run.idempotencyKey ?? null,
    agent_id: run.agentId ?? null,
  };
}

/** The SQL type of every column runValues fills (a column added there must be typed here). */
const RUN_COLUMN_TYPES: Record<keyof ReturnType<typeof runValues>, string> = {
  id: 'uuid',
  group_id: 'uuid',
  org_id: 'uuid',
  artifact_type: 'text',
  profile_id: 'uuid',
  session_id: 'uuid',
  status: 'text',
  request: 'jsonb',
  request_hash: 'text',
  idempotency_key: 'uuid',
  agent_id: 'uuid',
};
const RUN_COLUMNS = Object.keys(RUN_COLUMN_TYPES).join(', ');
const RUN_RECORD = Object.entries(RUN_COLUMN_TYPES).map(([column, type]) => `${column} ${type}`).join(', ');

/** The payload's columns, each from the payload except the group, taken from the window. */
const WINDOW_RUN_SELECT = Object.keys(RUN_COLUMN_TYPES).map((column) => (column === 'group_id' ? 'o.id' : `p.${column}`)).join(', ');

/**
 * Inserts each run whose key (profile, session, family) has a window group that stays open for
 * more than WINDOW_EDGE_SECONDS into that group, refreshes the activity of those groups that are
 * due, in one statement, and answers those groups. Joining such a group needs no window lock:
 * two triggers that find it both join it, and none can be opening another. Runs of other keys are
 * not inserted: the caller takes their window locks, reads their windows with openWindowGroups
 * (a group at its window's edge may be joined there) and inserts them.
 */
export async function insertRunsInOpenWindows(
  executor: Executor,
  runs: WindowRun[],
  windowSeconds: number,
): Promise<Pick<GroupRow, 'id' | 'profile_id' | 'session_id' | 'artifact_type'>[]> {
  if (runs.length === 0) return [];
  const rows = runs.map((run) => runValues(run, null));
  const result = await sql<Pick<GroupRow, 'id' | 'profile_id' | 'session_id' | 'artifact_type'>>`
    WITH p AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r (${sql.raw(RUN_RECORD)})
    ), open AS (${newestWindowGroups(
      sql`(SELECT DISTINCT org_id, profile_id, session_id, artifact_type FROM p) AS k`,
      sql`now() - make_interval(secs => ${Math.max(0, windowSeconds - WINDOW_EDGE_SECONDS)})`,
    )}), refreshed AS (${refreshActivity(sql`open`)}), inserted AS (
      INSERT INTO generation_runs (${sql.raw(RUN_COLUMNS)})
      SELECT ${sql.raw(WINDOW_RUN_SELECT)} FROM p
      JOIN open o ON o.profile_id = p.profile_id AND o.session_id = p.session_id AND o.artifact_type = p.artifact_type
    )
    SELECT id, profile_id, session_id, artifact_type FROM open`.execute(executor);
  return result.rows;
}

export async function insertRun(executor: Executor, run: NewRun): Promise<RunRow> {
  return executor
    .insertInto('generation_runs')
    .values({ ...runValues(run, run.groupId), request: JSON.stringify(run.request) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Many new runs in one statement (nothing returned: the caller minted their ids). The rows travel
 * as one JSON parameter: for a batch of hundreds, a VALUES list of thousands of parameters costs
 * more to build, send and plan than the insert itself.
 */
export async function insertRuns(executor: Executor, runs: NewRun[]): Promise<void> {
  if (runs.length === 0) return;
  const rows = runs.map((run) => runValues(run, run.groupId));
  await sql`
    INSERT INTO generation_runs (${sql.raw(RUN_COLUMNS)})
    SELECT ${sql.raw(RUN_COLUMNS)} FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r (${sql.raw(RUN_RECORD)})`.execute(executor);
}

export async function findRun(executor: Executor, id: string, forUpdate = false): Promise<RunRow | undefined> {
  let query = executor.selectFrom('generation_runs').selectAll().where('id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function runsOfGroup(executor: Executor, groupId: string): Promise<RunRow[]> {
  return executor.selectFrom('generation_runs').selectAll().where('group_id', '=', groupId).orderBy('created_at').orderBy('id').execute();
}

/** The message of each of these terminal events, by sequence. */
export async function terminalMessages(executor: Executor, seqs: number[]): Promise<Map<number, string>> {
  if (seqs.length === 0) return new Map();
  const rows = await executor.selectFrom('generation_events').select(['seq', 'payload']).where('seq', 'in', seqs).execute();
  return new Map(rows.map((row) => [Number(row.seq), String((row.payload as { message?: unknown }).message ?? '')]));
}

/** A claimed run, with the role of the profile that started it (null when that profile no longer exists). */
export type ClaimedRun = RunRow & {
  profile_role: 'admin' | 'member' | null;
  /** The org's default text model record at claim time (null: none), so a run resolves its model without a read of its own. */
  default_text_model: ArtifactRow | null;
};

/**
 * Takes the runs for `owner`, in one statement: each that is queued, or running with an expired
 * lease (its worker died). Counts the attempt. A run finished or held by another worker is not
 * in the answer. Reads the starting profile's role in the same statement (the runner acts as
 * that profile).
 *
 * Each claim gets a lease of its own, `owner/<uuid>` in `lease_owner`: the fence of every later
 * write. An execution whose lease was taken over is fenced out even when the new claim is by the
 * same process.
 */
export async function claimRuns(executor: Executor, runIds: string[], owner: string, leaseMs: number): Promise<ClaimedRun[]> {
  if (runIds.length === 0) return [];
  return executor
    .updateTable('generation_runs')
    .set({
      status: 'running',
      lease_owner: sql<string>`${owner} || '/' || gen_random_uuid()::text` as any,
      lease_expires_at: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` as any,
      attempts: sql<number>`attempts + 1` as any,
      started_at: sql<Date>`coalesce(started_at, now())` as any,
    })
    .where('id', 'in', runIds)
    .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', sql<Date>`now()`)])]))
    .returningAll()
    .returning(
      sql<'admin' | 'member' | null>`(SELECT CASE WHEN p.data->>'role' = 'admin' THEN 'admin' ELSE 'member' END FROM artifacts p
        WHERE p.id = generation_runs.profile_id AND p.org_id = generation_runs.org_id AND p.type = 'profile')`.as('profile_role'),
    )
    // The same choice as resolveModel's org default lookup (llm/resolve.ts), read with the claim.
    .returning(
      sql<ArtifactRow | null>`(SELECT row_to_json(m) FROM (
        SELECT * FROM artifacts a
        WHERE a.org_id = generation_runs.org_id AND a.type = 'model' AND a.status = 'published' AND a.data->>'purpose' = 'text' AND a.data->>'is_default' = 'true'
        ORDER BY a.updated_at DESC, a.id DESC LIMIT 1) m)`.as('default_text_model'),
    )
    .execute();
}

/** Extends the lease; false when `owner` no longer holds the run (taken over, or finished). */
export async function renewLease(executor: Executor, runId: string, owner: string, leaseMs: number): Promise<boolean> {
  const row = await executor
    .updateTable('generation_runs')
    .set({ lease_expires_at: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` as any })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Gives the lease up at once so another process takes the run over without waiting for expiry. */
export async function releaseLease(executor: Executor, runId: string, owner: string): Promise<void> {
  await executor
    .updateTable('generation_runs')
    .set({ lease_expires_at: sql<Date>`now() - interval '1 second'` as any })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .execute();
}

export async function addUsage(executor: Executor, runId: string, usage: { modelId: string; inputTokens: number; outputTokens: number; cost: number }): Promise<void> {
  await executor
    .updateTable('generation_runs')
    .set({
      model_id: usage.modelId,
      input_tokens: sql<number>`input_tokens + ${usage.inputTokens}` as any,
      output_tokens: sql<number>`output_tokens + ${usage.outputTokens}` as any,
      cost: sql<string>`cost + ${usage.cost}` as any,
    })
    .where('id', '=', runId)
    .execute();
}

/** The model a run calls, and the agent that chose it when one did (for the group detail). */
export async function setRunModel(executor: Executor, runId: string, modelId: string, agentId?: string): Promise<void> {
  await executor
    .updateTable('generation_runs')
    .set({ model_id: modelId, ...(agentId ? { agent_id: agentId } : {}) })
    .where('id', '=', runId)
    .execute();
}

/** Who may end a run: its lease holder, or (owner null) anyone once the lease expired or the run never started. */
export type TerminalFence = { owner: string } | { expiredOrQueued: true } | { queuedOnly: true };

/**
 * Ends the run, if `fence` still holds and it has not ended: the one place a run becomes
 * terminal. False means someone else ended it or took it over; the caller must not write its
 * terminal event then.
 */
export async function finishRun(
  executor: Executor,
  runId: string,
  status: Exclude<RunStatus, 'queued' | 'running'>,
  fence: TerminalFence,
  charge: { modelId?: string; usage?: { modelId: string; inputTokens: number; outputTokens: number; cost: number } } = {},
): Promise<boolean> {
  const { usage } = charge;
  const modelId = usage?.modelId ?? charge.modelId;
  let query = executor
    .updateTable('generation_runs')
    .set({
      status,
      ended_at: sql<Date>`now()` as any,
      lease_owner: null,
      lease_expires_at: null,
      // The run's usage and model are charged in the statement that ends it (one write, not three).
      ...(modelId !== undefined ? { model_id: modelId } : {}),
      ...(usage
        ? {
            input_tokens: sql<number>`input_tokens + ${usage.inputTokens}` as any,
            output_tokens: sql<number>`output_tokens + ${usage.outputTokens}` as any,
            cost: sql<string>`cost + ${usage.cost}` as any,
          }
        : {}),
    })
    .where('id', '=', runId)
    .where('status', 'in', UNFINISHED);
  if ('owner' in fence) query = query.where('status', '=', 'running').where('lease_owner', '=', fence.owner);
  else if ('queuedOnly' in fence) query = query.where('status', '=', 'queued');
  else query = query.where((eb) => eb.or([eb('status', '=', 'queued'), eb('lease_expires_at', '<', sql<Date>`now()`)]));
  const row = await query.returning('id').executeTakeFirst();
  return row !== undefined;
}

/**
 * Records the run's terminal event seq, inserting `messages` of the run in the same statement, and
 * stamps its end after its last message: the ending transaction writes messages (created_at is
 * their own clock time) after finishRun, whose now() is the transaction's start.
 */
export async function setTerminalSeq(executor: Executor, runId: string, seq: number, messages?: { groupId: string; messages: ChatMessage[] }): Promise<void> {
  const rows = messages ? messageRows(runId, messages.groupId, messages.messages) : [];
  if (rows.length === 0) {
    await executor
      .updateTable('generation_runs')
      .set({ terminal_event_seq: seq, ended_at: sql<Date>`clock_timestamp()` as any })
      .where('id', '=', runId)
      .execute();
    return;
  }
  await executor
    .with('inserted_messages', (db) => db.insertInto('generation_messages').values(rows).returning('created_at'))
    .updateTable('generation_runs')
    // The order in which PostgreSQL runs the insert and evaluates clock_timestamp() is not promised:
    // the end is the later of the two, read through the inserted rows' own created_at.
    .set({ terminal_event_seq: seq, ended_at: sql<Date>`GREATEST(clock_timestamp(), (SELECT max(created_at) FROM inserted_messages))` as any })
    .where('id', '=', runId)
    .execute();
}

export async function requestCancel(executor: Executor, runId: string): Promise<void> {
  await executor.updateTable('generation_runs').set({ cancel_requested: true }).where('id', '=', runId).execute();
}

/** Those of `runIds` whose cancel was requested. */
export async function cancelRequestedAmong(executor: Executor, runIds: string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const rows = await executor.selectFrom('generation_runs').select('id').where('id', 'in', runIds).where('cancel_requested', '=', true).execute();
  return rows.map((row) => row.id);
}

/**
 * How many runs are queued or running. Like the two reads below, it names the statuses as
 * literals, so even a generic plan counts them through the partial index of unfinished runs.
 */
export async function countUnfinishedRuns(executor: Executor): Promise<number> {
  const row = await executor
    .selectFrom('generation_runs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', [sql.lit<RunStatus>('queued'), sql.lit<RunStatus>('running')])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Running runs whose worker stopped renewing its lease. This read and staleQueuedRuns name their
 * status as a literal, not a parameter: only then can a prepared statement's generic plan (PGlite
 * prepares every statement) use the partial index of unfinished runs instead of scanning them all.
 */
export async function expiredRuns(executor: Executor, limit: number): Promise<RunRow[]> {
  return executor
    .selectFrom('generation_runs')
    .selectAll()
    .where('status', '=', sql.lit('running'))
    .where('lease_expires_at', '<', sql<Date>`now()`)
    .orderBy('lease_expires_at')
    .limit(limit)
    .execute();
}

/**
 * How long a queued run waits for a worker before its job is presumed lost (a claim that failed
 * with the database away) and it is enqueued again. A second job for a run that was only waiting
 * is harmless: its claim finds the run taken and does nothing.
 */
const QUEUED_RECHECK_SECONDS = 10 * 60;

/** When a queued run is next looked at: its `lease_expires_at` once requeued or held, else its creation plus the recheck delay. */
const queuedRecheckAt = sql<Date>`coalesce(lease_expires_at, created_at + make_interval(secs => ${QUEUED_RECHECK_SECONDS}))`;

/** Queued runs past their recheck time, oldest first. */
export async function staleQueuedRuns(executor: Executor, limit: number): Promise<string[]> {
  const rows = await executor
    .selectFrom('generation_runs')
    .select('id')
    .where('status', '=', sql.lit('queued'))
    .where(queuedRecheckAt, '<', sql<Date>`now()`)
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

/** Moves a stale queued run's recheck time on (the caller enqueues it again); false if it was taken or ended meanwhile. */
export async function postponeQueuedRecheck(executor: Executor, runId: string): Promise<boolean> {
  const row = await executor
    .updateTable('generation_runs')
    .set({ lease_expires_at: sql<Date>`now() + make_interval(secs => ${QUEUED_RECHECK_SECONDS})` as any })
    .where('id', '=', runId)
    .where('status', '=', 'queued')
    .where(queuedRecheckAt, '<', sql<Date>`now()`)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Holds queued runs a worker fetched and will start once it has a free slot: they are not
 * presumed lost before `ms` from now (the worker renews the hold while they wait). Runs taken or
 * ended meanwhile are left alone.
 */
export async function holdQueuedRuns(executor: Executor, runIds: string[], ms: number): Promise<void> {
  await executor
    .updateTable('generation_runs')
    .set({ lease_expires_at: sql<Date>`now() + make_interval(secs => ${ms / 1000})` as any })
    .where('id', 'in', runIds)
    .where('status', '=', 'queued')
    .execute();
}

/** Puts a run whose worker died back in the queue; false if it was ended or taken meanwhile. */
export async function requeueExpiredRun(executor: Executor, runId: string): Promise<boolean> {
  const row = await executor
    .updateTable('generation_runs')
    .set({ status: 'queued', lease_owner: null, lease_expires_at: sql<Date>`now() + make_interval(secs => ${QUEUED_RECHECK_SECONDS})` as any })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', sql<Date>`now()`)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

// ---- messages

function messageRows(runId: string, groupId: string, messages: ChatMessage[]) {
  return messages.map((message) => ({ id: uuidv7(), run_id: runId, group_id: groupId, role: message.role, text: message.text }));
}

export async function insertMessages(executor: Executor, runId: string, groupId: string, messages: ChatMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await executor
    .insertInto('generation_messages')
    .values(messageRows(runId, groupId, messages))
    .execute();
}

export interface MessageUploads {
  text_upload_ids?: string[];
  audio_upload_ids?: string[];
  image_upload_ids?: string[];
  video_upload_ids?: string[];
  file_upload_ids?: string[];
}

/** One message with the uploads it carries (a learner's turn, a reply with its speech, generated media). */
export async function insertMessage(
  executor: Executor,
  message: { runId: string; groupId: string; role: MessageRow['role']; text: string; uploads?: MessageUploads; id?: string },
): Promise<MessageRow> {
  return executor
    .insertInto('generation_messages')
    .values({ id: message.id ?? uuidv7(), run_id: message.runId, group_id: message.groupId, role: message.role, text: message.text, ...message.uploads })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setMessageText(executor: Executor, messageId: string, text: string): Promise<void> {
  await executor.updateTable('generation_messages').set({ text }).where('id', '=', messageId).execute();
}

/** Adds an audio upload to a message unless it is already there (a re-executed run attaches once). */
export async function addMessageAudio(executor: Executor, messageId: string, uploadId: string): Promise<void> {
  await executor
    .updateTable('generation_messages')
    .set({ audio_upload_ids: sql<string[]>`array_append(audio_upload_ids, ${uploadId}::uuid)` as any })
    .where('id', '=', messageId)
    .where(sql<boolean>`NOT (${uploadId}::uuid = ANY(audio_upload_ids))`)
    .execute();
}

export async function findMessage(executor: Executor, messageId: string): Promise<MessageRow | undefined> {
  return executor.selectFrom('generation_messages').selectAll().where('id', '=', messageId).executeTakeFirst();
}

/** Whether the run already announced this upload (a re-executed run must not announce it twice). */
export async function hasMediaCompleteEvent(executor: Executor, runId: string, uploadId: string): Promise<boolean> {
  const row = await executor
    .selectFrom('generation_events')
    .select('seq')
    .where('run_id', '=', runId)
    .where(sql<string>`payload->>'type'`, '=', 'GenerationMediaCompleteEvent')
    .where(sql<string>`payload->>'upload_id'`, '=', uploadId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function messagesOfGroup(executor: Executor, groupId: string, limit: number, offset: number): Promise<{ rows: MessageRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    executor.selectFrom('generation_messages').selectAll().where('group_id', '=', groupId).orderBy('created_at').orderBy('id').limit(limit).offset(offset).execute(),
    executor.selectFrom('generation_messages').select((eb) => eb.fn.countAll<number>().as('total')).where('group_id', '=', groupId).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.total) };
}

/** The group's newest `limit` messages, oldest first (a conversation's recent past). */
/**
 * The last `limit` messages of a conversation as it stood at a turn (a user message), oldest
 * first, by turn: the messages of every run whose user message comes at or before it, each run's
 * in its own order. A reply stored after the learner's next turn was sent still comes before that
 * turn. Compared in the database: a timestamp read into JavaScript loses its microseconds.
 */
export async function conversationUpToTurn(executor: Executor, groupId: string, upToTurnId: string, limit: number): Promise<MessageRow[]> {
  const result = await sql<MessageRow>`
    SELECT m.* FROM generation_messages m
    JOIN generation_messages turn ON turn.run_id = m.run_id AND turn.role = 'user'
    WHERE m.group_id = ${groupId}
      AND (turn.created_at, turn.id) <= (SELECT t.created_at, t.id FROM generation_messages t WHERE t.id = ${upToTurnId})
    ORDER BY turn.created_at DESC, turn.id DESC, m.created_at DESC, m.id DESC
    LIMIT ${limit}`.execute(executor);
  return result.rows.reverse();
}

export async function messagesOfRun(executor: Executor, runId: string): Promise<MessageRow[]> {
  return executor.selectFrom('generation_messages').selectAll().where('run_id', '=', runId).orderBy('created_at').orderBy('id').execute();
}

// ---- idempotency

/** Claims `key` for this request; returns the stored entry instead when the key was used before. */
export async function claimIdempotencyKey(
  executor: Executor,
  entry: { orgId: string; profileId: string; key: string; requestHash: string; response: Record<string, unknown> },
): Promise<{ claimed: true } | { claimed: false; requestHash: string; response: Record<string, unknown> }> {
  const inserted = await executor
    .insertInto('generation_idempotency')
    .values({ org_id: entry.orgId, profile_id: entry.profileId, key: entry.key, request_hash: entry.requestHash, response: JSON.stringify(entry.response) })
    .onConflict((conflict) => conflict.columns(['org_id', 'profile_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  if (inserted) return { claimed: true };
  const existing = await executor
    .selectFrom('generation_idempotency')
    .select(['request_hash', 'response'])
    .where('org_id', '=', entry.orgId)
    .where('profile_id', '=', entry.profileId)
    .where('key', '=', entry.key)
    .executeTakeFirstOrThrow();
  return { claimed: false, requestHash: existing.request_hash, response: existing.response };
}

export async function findIdempotencyEntry(executor: Executor, orgId: string, profileId: string, key: string) {
  return executor
    .selectFrom('generation_idempotency')
    .select(['request_hash', 'response'])
    .where('org_id', '=', orgId)
    .where('profile_id', '=', profileId)
    .where('key', '=', key)
    .executeTakeFirst();
}
