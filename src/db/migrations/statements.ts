import { sql, type Kysely } from 'kysely';

/**
 * Runs a DDL script one statement at a time: PGlite's extended protocol takes a single
 * statement per query. Statements are separated by a semicolon at the end of a line, so
 * keep function bodies (if any) free of line-ending semicolons or give them their own call.
 */
export async function runStatements(db: Kysely<any>, script: string): Promise<void> {
  const statements = script
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
  for (const statement of statements) await sql.raw(statement).execute(db);
}
