import { sql } from 'kysely';
import type { Database, Executor } from '../db/database.ts';

/** The NOTIFY channel every process LISTENs on; the payload names the group, run and seq, never the event. */
export const EVENTS_CHANNEL = 'glow_generation_events';

export interface NewEvent {
  orgId: string;
  groupId: string;
  runId: string;
  artifactType: string;
  payload: Record<string, unknown>;
}

export interface StoredEvent {
  seq: number;
  runId: string;
  groupId: string;
  payload: Record<string, unknown>;
}

export interface EventNotification {
  groupId: string;
  runId: string;
  seq: number;
}

export function parseNotification(text: string): EventNotification | undefined {
  try {
    const value = JSON.parse(text) as { g?: unknown; r?: unknown; s?: unknown };
    if (typeof value.g !== 'string' || typeof value.r !== 'string' || typeof value.s !== 'number') return undefined;
    return { groupId: value.g, runId: value.r, seq: value.s };
  } catch {
    return undefined;
  }
}

/**
 * Appends events inside the caller's transaction and notifies every process on commit, in one
 * statement whatever the number of events.
 *
 * Writers of one group are serialized by a transaction-scoped advisory lock, taken before any seq
 * is drawn, so within a group events commit in `seq` order: a reader that has seen seq N of a
 * group can never later find a committed event of that group below N. That is what makes
 * "everything after Last-Event-ID" a gap-free replay without a global lock. (The locks are taken
 * in group order, so two writers of several groups never deadlock; the insert's one-time filter on
 * the materialized lock CTE makes them precede the first row drawn.)
 */
export async function appendEvents(database: Database, executor: Executor, events: NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const groups = [...new Set(events.map((event) => event.groupId))].sort();
  const rows = events.map((event) => ({ g: event.groupId, r: event.runId, o: event.orgId, t: event.artifactType, p: event.payload }));
  const result = await database.executeSql(
    `WITH locks AS MATERIALIZED (
       SELECT pg_advisory_xact_lock(hashtextextended(g, 7)) FROM (SELECT unnest($1::text[]) AS g ORDER BY 1) AS lock_order
     ), inserted AS (
       INSERT INTO generation_events (group_id, run_id, org_id, artifact_type, payload)
       SELECT (e.value->>'g')::uuid, (e.value->>'r')::uuid, (e.value->>'o')::uuid, e.value->>'t', e.value->'p'
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e (value, ord)
       WHERE (SELECT count(*) FROM locks) >= 0
       ORDER BY e.ord
       RETURNING seq
     )
     SELECT seq, pg_notify($3, json_build_object('g', e.value->>'g', 'r', e.value->>'r', 's', i.seq)::text) AS notified
     FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS ord FROM inserted) AS i
     JOIN jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e (value, ord) ON e.ord = i.ord
     ORDER BY i.seq`,
    [groups, JSON.stringify(rows), EVENTS_CHANNEL],
    executor,
  );
  if (result.rows.length !== events.length) throw new Error(`appendEvents: ${result.rows.length} of ${events.length} events written`);
  return events.map((event, index) => ({ seq: Number(result.rows[index].seq), runId: event.runId, groupId: event.groupId, payload: event.payload }));
}

/** Events of a group after `afterSeq`, oldest first. */
export async function readGroupEvents(executor: Executor, groupId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  const rows = await executor
    .selectFrom('generation_events')
    .select(['seq', 'run_id', 'group_id', 'payload'])
    .where('group_id', '=', groupId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ seq: Number(row.seq), runId: row.run_id, groupId: row.group_id, payload: row.payload }));
}

/** For each group, its first `limit` events after its own position, oldest first within a group; one query. */
export async function readGroupsEvents(executor: Executor, positions: { groupId: string; afterSeq: number }[], limit: number): Promise<StoredEvent[]> {
  if (positions.length === 0) return [];
  const result = await sql<{ seq: number | string; run_id: string; group_id: string; payload: Record<string, unknown> }>`
    SELECT e.seq, e.run_id, e.group_id, e.payload
    FROM unnest(${positions.map((position) => position.groupId)}::uuid[], ${positions.map((position) => position.afterSeq)}::bigint[]) AS w (group_id, after_seq)
    CROSS JOIN LATERAL (
      SELECT seq, run_id, group_id, payload FROM generation_events
      WHERE group_id = w.group_id AND seq > w.after_seq
      ORDER BY seq
      LIMIT ${limit}
    ) AS e`.execute(executor);
  return result.rows.map((row) => ({ seq: Number(row.seq), runId: row.run_id, groupId: row.group_id, payload: row.payload }));
}

export async function readRunEvents(executor: Executor, runId: string): Promise<StoredEvent[]> {
  const rows = await executor
    .selectFrom('generation_events')
    .select(['seq', 'run_id', 'group_id', 'payload'])
    .where('run_id', '=', runId)
    .orderBy('seq')
    .execute();
  return rows.map((row) => ({ seq: Number(row.seq), runId: row.run_id, groupId: row.group_id, payload: row.payload }));
}

export async function deleteEventsOlderThan(executor: Executor, days: number): Promise<number> {
  const cutoff = new Date(Date.now() - days * 24 * 3600 * 1000);
  const result = await executor.deleteFrom('generation_events').where('created_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}
