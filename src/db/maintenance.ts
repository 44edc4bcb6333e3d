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
 * between instead of waiting for the whole database. Answers the tables done; `onError` hears of
 * each table that failed. Stops between tables once `stopped()` says so.
 */
export async function vacuumTables(
  database: Database,
  options: { onError?: (table: string, error: unknown) => void; stopped?: () => boolean; beforeEachTable?: () => Promise<void> } = {},
): Promise<string[]> {
  const done: string[] = [];
  for (const table of await maintainedTables(database)) {
    await options.beforeEachTable?.();
    if (options.stopped?.()) break;
    try {
      await database.executeSql(`VACUUM (ANALYZE) ${table}`);
      done.push(table);
    } catch (error) {
      // pg-boss may have dropped a queue's partition since the list was read: not worth a word.
      if (!/does not exist/.test(String((error as Error)?.message))) options.onError?.(table, error);
    }
  }
  return done;
}

/**
 * On PGlite, vacuums every `everyMs`; a no-op elsewhere or with `everyMs` 0. `beforeEachTable`
 * may hold each table's VACUUM back (until a burst of requests is answered: it holds the one
 * connection while it runs).
 */
export function startPgliteMaintenance(
  database: Database,
  everyMs: number,
  onError?: (table: string, error: unknown) => void,
  beforeEachTable?: () => Promise<void>,
): Maintenance {
  if (database.backend !== 'pglite' || everyMs <= 0) return { stop: async () => {} };
  let stopped = false;
  let stopping!: () => void;
  // A pass held back before a table goes on at once when the server stops, and ends there.
  const stop = new Promise<void>((resolve) => (stopping = resolve));
  const waitForTurn = beforeEachTable && (() => Promise.race([beforeEachTable(), stop]));
  let running: Promise<unknown> | undefined;
  // everyMs stays below a timer's 2^31 ms limit: GLOW_PGLITE_VACUUM_MINUTES is capped at 35000.
  const timer = setInterval(() => {
    running ??= vacuumTables(database, { onError, stopped: () => stopped, beforeEachTable: waitForTurn })
      .catch((error: unknown) => onError?.('(listing tables)', error))
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  timer.unref();
  return {
    /** No new pass; a pass under way ends after its current table. */
    async stop() {
      stopped = true;
      stopping();
      clearInterval(timer);
      await running;
    },
  };
}
