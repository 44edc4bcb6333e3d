import fs from 'node:fs';
import path from 'node:path';
import { CompiledQuery, Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { pgliteQuery } from './pglite-query.ts';
import type { DB } from './schema.ts';

// Return int8 (counts, identities) as JS numbers: every bigint Glow stores fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Backend = 'pglite' | 'postgres';
export type Executor = Kysely<DB> | Transaction<DB>;
export type Unlisten = () => Promise<void>;

export interface Database {
  readonly db: Kysely<DB>;
  readonly backend: Backend;
  /** Whether two transactions can be in flight at once: a pool on PostgreSQL; PGlite's one connection runs them one after another. */
  readonly parallelTransactions: boolean;
  /** Human description of where the data lives (printed at start). */
  readonly location: string;
  /**
   * Runs raw SQL: one parameterized statement, or (with no values) a script of several statements.
   * With `executor` set to a transaction it runs inside it. pg-boss talks to the database through this.
   */
  executeSql(text: string, values?: unknown[], executor?: Executor): Promise<{ rows: any[] }>;
  /**
   * Subscribes to a NOTIFY channel; the same API on PostgreSQL (dedicated connection) and PGlite
   * (in process). On PostgreSQL a lost connection is restored, and `onResumed` is then called:
   * notifications sent while it was down are gone.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResumed?: () => void): Promise<Unlisten>;
  /**
   * PGlite only (one process, so its listeners are all here): hands payloads straight to this
   * handle's listeners of `channel`, as a committed NOTIFY would, without a round trip through SQL.
   */
  notifyInProcess?(channel: string, payloads: string[]): void;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  /** Told before an embedded store is created (not when one is reopened): creating it takes many seconds. */
  onCreatingStore?: (location: string) => void;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.maxConnections ?? 10) : openPglite(options.dataDir, options.onCreatingStore);
}

async function openPglite(dataDir: string, onCreatingStore?: (location: string) => void): Promise<Database> {
  const pgDataDir = path.join(dataDir, 'pgdata');
  if (!fs.existsSync(path.join(pgDataDir, 'PG_VERSION'))) onCreatingStore?.(pgDataDir);
  fs.mkdirSync(pgDataDir, { recursive: true });
  const pglite = await PGlite.create(pgDataDir);
  // PGlite answers synchronously inside a promise, so back-to-back queries would chain as
  // microtasks and starve I/O: with workers busy, a new request would not even be parsed until
  // they idle. Queries hand back to the event loop now and then, so requests and timers interleave.
  // Yielding after every query would idle the connection for a loop turn each time; after a few
  // milliseconds without a turn is enough to bound the wait.
  let lastTurn = performance.now();
  const yielding = {
    query: async (text: string, values: unknown[] = []) => {
      const result = await pgliteQuery(pglite, text, values);
      if (performance.now() - lastTurn > 3) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastTurn = performance.now();
      }
      return result;
    },
    close: () => pglite.close(),
  } as unknown as PGlite;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(yielding) });
  const listeners = new Map<string, Set<(payload: string) => void>>();
  const unsubscribers = new Map<string, () => Promise<void>>();
  let closed = false;

  const runScript = async (text: string) => {
    const results = await pglite.exec(text);
    return { rows: (results.at(-1)?.rows ?? []) as any[] };
  };

  return {
    db,
    backend: 'pglite',
    parallelTransactions: false,
    location: `embedded PGlite at ${pgDataDir}`,
    async executeSql(text, values = [], executor) {
      if (values.length > 0) {
        const result = await (executor ?? db).executeQuery(CompiledQuery.raw(text, values));
        return { rows: result.rows as any[] };
      }
      // PGlite's extended protocol takes one statement; scripts go through exec. Inside a transaction
      // the connection is already held by it; outside, hold Kysely's connection so nothing interleaves.
      if (executor && executor.isTransaction) return runScript(text);
      return db.connection().execute(() => runScript(text));
    },
    async listen(channel, onPayload) {
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        const subscribers = set;
        const unsubscribe = await pglite.listen(channel, (payload) => {
          for (const listener of subscribers) listener(payload);
        });
        unsubscribers.set(channel, unsubscribe);
      }
      set.add(onPayload);
      return async () => {
        const current = listeners.get(channel);
        if (!current) return;
        current.delete(onPayload);
        if (current.size === 0) {
          listeners.delete(channel);
          const unsubscribe = unsubscribers.get(channel);
          unsubscribers.delete(channel);
          if (unsubscribe && !closed) await unsubscribe();
        }
      };
    },
    notifyInProcess(channel, payloads) {
      if (closed) return;
      const set = listeners.get(channel);
      if (!set) return;
      for (const listener of [...set]) {
        for (const payload of payloads) {
          try {
            listener(payload);
          } catch {
            // A listener's failure is its own; the others still hear of the events.
          }
        }
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

/** How the listening connection names itself (`pg_stat_activity.application_name`). */
export const LISTEN_APPLICATION_NAME = 'glow-listen';
const LISTEN_HEARTBEAT_MS = 30_000;
/** Connections a quiet pool keeps: as many as a burst of triggers uses at once (two token lookups, two trigger batches). */
const WARM_CONNECTIONS = 4;

async function openPostgres(databaseUrl: string, maxConnections: number): Promise<Database> {
  // A few connections stay open through quiet spells (the pool closes idle ones after 10 s): a
  // burst of requests after a pause would otherwise wait for new connections, and PostgreSQL for
  // their backends to start.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: maxConnections, min: Math.min(WARM_CONNECTIONS, maxConnections) });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Map<string, Set<(payload: string) => void>>();
  /** Each listener's call for "notifications may have been missed", by its payload function. */
  const resumers = new Map<(payload: string) => void, () => void>();
  let listenClient: pg.Client | undefined;
  let listenClientReady: Promise<pg.Client> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelayMs = 0;
  let closed = false;

  const connectListener = (): Promise<pg.Client> => {
    if (listenClientReady) return listenClientReady;
    listenClientReady = (async () => {
      const client = new pg.Client({
        connectionString: databaseUrl,
        application_name: LISTEN_APPLICATION_NAME,
        connectionTimeoutMillis: 10_000,
        query_timeout: 10_000,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      client.on('notification', (message) => {
        const set = listeners.get(message.channel);
        if (set) for (const listener of set) listener(message.payload ?? '');
      });
      client.on('error', () => lost(client));
      client.on('end', () => lost(client));
      try {
        await client.connect();
      } catch (error) {
        listenClientReady = undefined;
        throw error;
      }
      if (closed) {
        await client.end().catch(() => {});
        throw new Error('the database is closed');
      }
      listenClient = client;
      // A connection dropped without a word (a NAT or firewall forgetting it) raises no error:
      // a query now and then finds out, and a failure or a 10-s silence counts as lost.
      heartbeat = setInterval(() => {
        client.query('SELECT 1').catch(() => lost(client));
      }, LISTEN_HEARTBEAT_MS);
      heartbeat.unref();
      return client;
    })();
    return listenClientReady;
  };

  /**
   * The listening connection dropped (the server restarted, an admin ended it): notifications
   * sent meanwhile are gone. Reconnect, with a growing delay, LISTEN again on every channel, then
   * tell the listeners that they may have missed some.
   */
  const lost = (client: pg.Client) => {
    if (client !== listenClient) return;
    listenClient = undefined;
    listenClientReady = undefined;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
    client.end().catch(() => {});
    scheduleReconnect();
  };
  const scheduleReconnect = () => {
    if (closed || reconnectTimer || listeners.size === 0) return;
    reconnectDelayMs = Math.min(5_000, Math.max(100, reconnectDelayMs * 2));
    reconnectTimer = setTimeout(async () => {
      reconnectTimer = undefined;
      if (closed) return;
      let client: pg.Client;
      try {
        client = await connectListener();
        for (const channel of listeners.keys()) await client.query(`LISTEN ${quoteIdentifier(channel)}`);
      } catch {
        scheduleReconnect();
        return;
      }
      reconnectDelayMs = 0;
      for (const resumed of [...resumers.values()]) {
        try {
          resumed();
        } catch {
          // A listener's failure is its own; the others still hear of the gap.
        }
      }
    }, reconnectDelayMs);
    reconnectTimer.unref();
  };

  const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const url = new URL(databaseUrl);

  return {
    db,
    backend: 'postgres',
    parallelTransactions: true,
    location: `PostgreSQL at ${url.host}${url.pathname}`,
    async executeSql(text, values = [], executor) {
      const result = await (executor ?? db).executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows as any[] };
    },
    async listen(channel, onPayload, onResumed) {
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        const client = await connectListener();
        await client.query(`LISTEN ${quoteIdentifier(channel)}`);
      }
      set.add(onPayload);
      if (onResumed) resumers.set(onPayload, onResumed);
      return async () => {
        resumers.delete(onPayload);
        const current = listeners.get(channel);
        if (!current) return;
        current.delete(onPayload);
        if (current.size === 0) {
          listeners.delete(channel);
          if (listenClient && !closed) await listenClient.query(`UNLISTEN ${quoteIdentifier(channel)}`).catch(() => {});
        }
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (heartbeat) clearInterval(heartbeat);
      // A connection still being made ends itself when it finds the database closed.
      await listenClientReady?.catch(() => {});
      if (listenClient) await listenClient.end().catch(() => {});
      await db.destroy();
    },
  };
}
