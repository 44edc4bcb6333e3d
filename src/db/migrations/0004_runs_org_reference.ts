import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * A run's org is its group's (the group references the org and cascades on its deletion), so the
 * run's own reference to orgs checked nothing the group's does not, at the price of one more
 * lookup per inserted run: a burst of triggers inserts hundreds of runs in one statement.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(db, 'ALTER TABLE generation_runs DROP CONSTRAINT generation_runs_org_id_fkey;');
}
