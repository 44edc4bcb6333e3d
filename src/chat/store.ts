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
