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
 * Appends events inside the caller's transaction and notifies every process on commit.
 *
 * Writers of one group are serialized by a transaction-scoped advisory lock, so within a group
 * events commit in `seq` order: a reader that has seen seq N of a group can never later find a
 * committed event of that group below N. That is what makes "everything after Last-Event-ID" a
 * gap-free replay without a global lock.
 */
export async function appendEvents(database: Database, executor: Executor, events: NewEvent[]): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  const lockedGroups = new Set<string>();
  for (const event of events) {
    if (!lockedGroups.has(event.groupId)) {
      await database.executeSql('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [event.groupId], executor);
      lockedGroups.add(event.groupId);
    }
    const row = await executor
      .insertInto('generation_events')
      .values({
        group_id: event.groupId,
        run_id: event.runId,
        org_id: event.orgId,
        artifact_type: event.artifactType,
        payload: JSON.stringify(event.payload),
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    const seq = Number(row.seq);
    await database.executeSql('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify({ g: event.groupId, r: event.runId, s: seq })], executor);
    stored.push({ seq, runId: event.runId, groupId: event.groupId, payload: event.payload });
  }
  return stored;
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
