import { sql } from 'kysely';
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
  learner_profile_id: string;
  learner_role: 'admin' | 'member' | null;
  session_id: string;
}

/**
 * Attempts in progress, started with attempt/start (they hold a transcript group), whose
 * simulation has a time limit: what their deadline and the learner acting on them need.
 */
export async function timedAttemptsInProgress(executor: Executor): Promise<TimedAttempt[]> {
  const { rows } = await sql<TimedAttempt>`
    SELECT a.id, a.org_id, a.data->>'started_at' AS started_at,
           (s.data->>'time_limit_minutes')::int AS time_limit_minutes,
           g.profile_id AS learner_profile_id, p.data->>'role' AS learner_role, g.session_id
      FROM artifacts a
      JOIN artifacts s ON s.org_id = a.org_id AND s.type = 'simulation' AND s.id = (a.data->>'simulation_id')::uuid
      JOIN generation_groups g ON g.id = (a.data->>'group_id')::uuid AND g.org_id = a.org_id
      LEFT JOIN artifacts p ON p.org_id = a.org_id AND p.type = 'profile' AND p.id = g.profile_id
     WHERE a.type = 'attempt' AND a.status = 'published' AND a.data->>'state' = 'in_progress'
       AND s.data->>'time_limit_minutes' IS NOT NULL`.execute(executor);
  return rows;
}
