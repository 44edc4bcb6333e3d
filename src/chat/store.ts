import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../db/database.ts';

/** Serializes the attempt starts of one learner on one simulation, so a limit on attempts holds under concurrent starts. */
export async function lockLearnerAttempts(executor: Executor, profileId: string, simulationId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${profileId}:${simulationId}`}, 13))`.execute(executor);
}

/** How many attempts the learner has of the simulation, whatever their state. */
export async function countLearnerAttempts(executor: Executor, orgId: string, profileId: string, simulationId: string): Promise<number> {
  const row = await executor
    .selectFrom('artifacts')
    .select((eb) => eb.fn.countAll<number>().as('attempts'))
    .where('org_id', '=', orgId)
    .where('type', '=', 'attempt')
    .where(sql<string>`data->>'simulation_id'`, '=', simulationId)
    .where(sql<string>`data->>'learner_profile_id'`, '=', profileId)
    .executeTakeFirstOrThrow();
  return Number(row.attempts);
}

export interface TimedAttempt {
  id: string;
  org_id: string;
  started_at: string | null;
  time_limit_minutes: number;
  created_by: string;
  creator_role: 'admin' | 'member' | null;
  session_id: string;
}

/**
 * Attempts in progress whose simulation has a time limit and whose conversation is their
 * learner's own transcript (what a turn checks too): what their deadline and their writer need.
 * A record holding something else than a UUID is skipped, not an error for the whole read.
 */
export async function timedAttemptsInProgress(executor: Executor): Promise<TimedAttempt[]> {
  const { rows } = await sql<TimedAttempt>`
    SELECT a.id, a.org_id, a.data->>'started_at' AS started_at,
           (s.data->>'time_limit_minutes')::int AS time_limit_minutes,
           a.created_by, p.data->>'role' AS creator_role, g.session_id
      FROM artifacts a
      JOIN artifacts s ON s.id = ${uuidOrNull(sql`a.data->>'simulation_id'`)} AND s.org_id = a.org_id AND s.type = 'simulation'
      JOIN generation_groups g ON g.id = ${uuidOrNull(sql`a.data->>'group_id'`)} AND g.org_id = a.org_id
       AND g.transcript AND g.artifact_type = 'attempt' AND g.profile_id::text = COALESCE(a.data->>'learner_profile_id', a.created_by::text)
      LEFT JOIN artifacts p ON p.org_id = a.org_id AND p.type = 'profile' AND p.id = a.created_by
     WHERE a.type = 'attempt' AND a.status = 'published' AND a.data->>'state' = 'in_progress'
       AND s.data->>'time_limit_minutes' IS NOT NULL`.execute(executor);
  return rows;
}

/** `text` as a uuid, or NULL when it is not one: a cast that cannot fail, so the join can still use the primary key. */
function uuidOrNull(text: RawBuilder<unknown>): RawBuilder<string | null> {
  return sql`(CASE WHEN ${text} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN (${text})::uuid END)`;
}

/**
 * The turns an attempt's conversation has taken, from its reply runs (one per turn): those not
 * ended without a reply (failed or cancelled before any text of it was stored), and how many
 * replies are still coming (runs queued or running with no reply stored yet: a run whose reply is
 * stored is still `running` until its worker ends it, a moment later). `exceptRunId` leaves one
 * run out (the one asking). A count rather than a counter, so a run ended by the sweeper or
 * cancelled while queued needs no one to give its turn back.
 */
export async function turnsOfConversation(executor: Executor, groupId: string, exceptRunId: string): Promise<{ taken: number; pending: number }> {
  const { rows } = await sql<{ taken: string | number; pending: string | number }>`
    SELECT count(*) FILTER (WHERE r.status NOT IN ('error', 'cancelled') OR replied) AS taken,
           count(*) FILTER (WHERE r.status IN ('queued', 'running') AND NOT replied) AS pending
      FROM generation_runs r,
           LATERAL (SELECT EXISTS (SELECT 1 FROM generation_messages m WHERE m.run_id = r.id AND m.role = 'assistant') AS replied) reply
     WHERE r.group_id = ${groupId} AND r.id <> ${exceptRunId}`.execute(executor);
  return { taken: Number(rows[0]?.taken ?? 0), pending: Number(rows[0]?.pending ?? 0) };
}
