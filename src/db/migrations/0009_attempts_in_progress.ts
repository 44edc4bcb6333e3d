import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * Every process looks, once a minute, for attempts in progress whose time limit has run out
 * (src/chat/deadlines.ts). Without an index of its own that read is the whole artifacts table; a
 * partial index holds just the attempts in progress, a handful at any time.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(
    db,
    "CREATE INDEX artifacts_attempts_in_progress ON artifacts (org_id) WHERE type = 'attempt' AND status = 'published' AND data->>'state' = 'in_progress';",
  );
}
