import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import type { DB } from './schema.ts';
import type { Database } from './database.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { withSessionLock } from './session-lock.ts';

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * Applies pending migrations. Kysely's migrator locks its lock table, but creating that table
 * can itself race between two processes starting at once on a new database; a session
 * advisory lock around the whole run makes it one at a time.
 */
export async function migrateToLatest(database: Database): Promise<string[]> {
  return withSessionLock(database, 'glow.migrations', runMigrations);
}

async function runMigrations(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`);
  }
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}

export async function pendingMigrations(database: Database): Promise<string[]> {
  const migrator = new Migrator({ db: database.db, provider });
  const migrations = await migrator.getMigrations();
  return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name);
}
