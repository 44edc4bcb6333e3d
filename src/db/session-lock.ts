import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.ts';
import type { Database } from './database.ts';

/**
 * Runs `body` while this process holds the session advisory lock `key` on a connection reserved
 * for it: other processes doing the same on the same database wait their turn. `body` gets that
 * connection; statements it sends another way (the pool) run beside the lock, not under it.
 */
export async function withSessionLock<T>(database: Database, key: string, body: (connection: Kysely<DB>) => Promise<T>): Promise<T> {
  return database.db.connection().execute(async (connection) => {
    await sql`SELECT pg_advisory_lock(hashtext(${key}))`.execute(connection);
    const unlock = () => sql`SELECT pg_advisory_unlock(hashtext(${key}))`.execute(connection);
    let result: T;
    try {
      result = await body(connection);
    } catch (error) {
      // The body's failure is the one to report; a lock left by a lost connection ends with it.
      await unlock().catch(() => {});
      throw error;
    }
    await unlock();
    return result;
  });
}
