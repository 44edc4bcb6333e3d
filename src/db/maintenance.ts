import type { Database } from './database.ts';

/**
 * PGlite runs PostgreSQL in single-user mode, where no autovacuum worker exists: the dead row left
 * by every run, lease and job update would never be reclaimed (tables and indexes grow without
 * bound) and the planner would never get statistics. This does autovacuum's work there. On
 * PostgreSQL autovacuum does it, and none of this runs.
 */
export interface Maintenance {
  stop(): Promise<void>;
}

/** Glow's and pg-boss's tables (partitions, not their partitioned parents), schema-qualified and quoted. */
async function maintainedTables(database: Database): Promise<string[]> {
  const { rows } = await database.executeSql(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname IN ('public', 'pgboss')
     ORDER BY 1`,
  );
  return rows.map((row: { name: string }) => row.name);
}

/**
 * VACUUM (ANALYZE) of every table, one statement each, so other queries get the connection in
 * between instead of waiting for the whole database. Answers the tables done.
 */
export async function vacuumTables(database: Database): Promise<string[]> {
  const done: string[] = [];
  for (const table of await maintainedTables(database)) {
    try {
      await database.executeSql(`VACUUM (ANALYZE) ${table}`);
      done.push(table);
    } catch {
      // Dropped since it was listed (pg-boss removes queue partitions), or the database is closing.
    }
  }
  return done;
}

/** On PGlite, vacuums every `everyMs`; a no-op elsewhere or with `everyMs` 0. */
export function startPgliteMaintenance(database: Database, everyMs: number): Maintenance {
  if (database.backend !== 'pglite' || everyMs <= 0) return { stop: async () => {} };
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= vacuumTables(database)
      .catch(() => {})
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
