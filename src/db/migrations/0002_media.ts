import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(db, `SELECT 1;`);
}
