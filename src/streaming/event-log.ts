import { sql } from 'kysely';
import type { Database, Executor } from '../db/database.ts';

/** The NOTIFY channel every process LISTENs on; the payload names the group, run and seq, never the event. */
export const EVENTS_CHANNEL = 'glow_generation_events';

export interface NewEvent {
  orgId: string;
  groupId: string;
  runId: string;
  artifactType: string;
  payload: Record<string, unknown>;
}

export interface StoredEvent {
  seq: number;
  runId: string;
  groupId: string;
  payload: Record<string, unknown>;
}

export interface EventNotification {
  groupId: string;
  runId: string;
  seq: number;
}

export function parseNotification(text: string): EventNotification | undefined {
  try {
    const value = JSON.parse(text) as { g?: unknown; r?: unknown; s?: unknown };
    if (typeof value.g !== 'string' || typeof value.r !== 'string' || typeof value.s !== 'number') return undefined;
    return { groupId: value.g, runId: value.r, seq: value.s };
  } catch {
    return undefined;
  }
}

/**
 * Appends events inside the caller's transaction (or alone, autocommit, with `database.db`), in one
 * statement whatever the number of events. Other processes learn of them from the process-wide
 * notifier (`EventNotifier`) once they are committed, never from a NOTIFY inside this transaction:
 * a transaction that notifies holds PostgreSQL's cluster-wide notify lock through its commit, which
 * serializes every event writer behind one lock (a third of the commits per second).
 *
 * Writers of one group are serialized by a transaction-scoped advisory lock, taken before any seq
 * is drawn, so within a group events commit in `seq` order: a reader that has seen seq N of a
 * group can never later find a committed event of that group below N. That is what makes
 * "everything after Last-Event-ID" a gap-free replay without a global lock. (The locks are taken
 * in group order, so two writers of several groups never deadlock; the insert's one-time filter on
 * the materialized lock CTE makes them precede the first row drawn.) Where transactions never
 * overlap (PGlite's one connection) commits are in seq order already, and no lock is taken.
 */
export async function appendEvents(database: Database, executor: Executor, events: NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const result = events.length === 1 ? await appendOne(database, executor, events[0]!) : await appendMany(database, executor, events);
  if (result.rows.length !== events.length) throw new Error(`appendEvents: ${result.rows.length} of ${events.length} events written`);
  // Sequence values are drawn in insert order (ORDER BY e.ord), so sorting them pairs them with the events.
  const seqs = result.rows.map((row) => Number(row.seq)).sort((a, b) => a - b);
  const stored = events.map((event, index) => ({ seq: seqs[index]!, runId: event.runId, groupId: event.groupId, payload: event.payload }));
  notifierOf(database).announce(stored, !executor.isTransaction);
  return stored;
}

/** The common case, one event: the same lock then insert, without the jsonb array (a quarter cheaper on PGlite). */
function appendOne(database: Database, executor: Executor, event: NewEvent): Promise<{ rows: any[] }> {
  const locked = database.parallelTransactions;
  return database.executeSql(
    `${locked ? 'WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7)))' : ''}
     INSERT INTO generation_events (group_id, run_id, org_id, artifact_type, payload)
     SELECT $1::uuid, $2::uuid, $3::uuid, $4, $5::jsonb
     ${locked ? 'WHERE (SELECT count(*) FROM lock) >= 0' : ''}
     RETURNING seq`,
    [event.groupId, event.runId, event.orgId, event.artifactType, JSON.stringify(event.payload)],
    executor,
  );
}

function appendMany(database: Database, executor: Executor, events: NewEvent[]): Promise<{ rows: any[] }> {
  const rows = events.map((event) => ({ g: event.groupId, r: event.runId, o: event.orgId, t: event.artifactType, p: event.payload }));
  const locked = database.parallelTransactions;
  return database.executeSql(
    `${locked ? 'WITH locks AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended(g, 7)) FROM (SELECT unnest($2::text[]) AS g ORDER BY 1) AS lock_order)' : ''}
     INSERT INTO generation_events (group_id, run_id, org_id, artifact_type, payload)
     SELECT (e.value->>'g')::uuid, (e.value->>'r')::uuid, (e.value->>'o')::uuid, e.value->>'t', e.value->'p'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e (value, ord)
     ${locked ? 'WHERE (SELECT count(*) FROM locks) >= 0' : ''}
     ORDER BY e.ord
     RETURNING seq`,
    locked ? [JSON.stringify(rows), [...new Set(events.map((event) => event.groupId))].sort()] : [JSON.stringify(rows)],
    executor,
  );
}

const notifiers = new WeakMap<Database, EventNotifier>();

function notifierOf(database: Database): EventNotifier {
  let notifier = notifiers.get(database);
  if (!notifier) notifiers.set(database, (notifier = new EventNotifier(database)));
  return notifier;
}

/** A batch is sent this long after its first event; events arriving while one is sent go in the next. */
const NOTIFY_BATCH_MS = 2;
/** An event written inside a transaction is looked for again after this long, doubling up to the cap, until its commit shows it. */
const VISIBILITY_FIRST_CHECK_MS = 2;
const VISIBILITY_MAX_CHECK_MS = 250;
/** Not visible after this long: rolled back (or a transaction this slow); the hub's safety pull covers the latter. */
const VISIBILITY_GIVE_UP_MS = 60_000;
/** Seqs looked up per statement. */
const VISIBILITY_BATCH = 5000;

interface Pending {
  groupId: string;
  runId: string;
  seq: number;
  since: number;
  checkAt: number;
  delay: number;
}

/**
 * One per database handle (so one per process): tells every process, with one statement every few
 * milliseconds at most, which groups have new committed events. Events appended with autocommit
 * are committed when `appendEvents` returns; those appended inside a transaction are announced
 * once the same statement finds them visible (committed), checked again with back-off until then.
 * The statement sends one notification per (group, run) in one transaction, so all of them share
 * one commit, and the notify lock is taken once per batch instead of once per event.
 *
 * A crash (or a lost database) between an event's commit and its notification only delays its
 * delivery until the hubs' periodic safety pull; nothing is lost, since the hubs read the log.
 */
export class EventNotifier {
  /** Known committed, not yet announced: seq by "group run" key (highest seq kept). */
  private readonly committed = new Map<string, Pending>();
  /** Written inside a transaction, not yet seen committed. */
  private readonly uncommitted = new Map<number, Pending>();
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private sending = false;

  constructor(private readonly database: Database) {}

  announce(events: StoredEvent[], committed: boolean): void {
    const now = performance.now();
    for (const event of events) {
      const item: Pending = { groupId: event.groupId, runId: event.runId, seq: event.seq, since: now, checkAt: now + VISIBILITY_FIRST_CHECK_MS, delay: VISIBILITY_FIRST_CHECK_MS };
      if (committed) this.markCommitted(item);
      else this.uncommitted.set(event.seq, item);
    }
    this.schedule(now + (committed ? NOTIFY_BATCH_MS : VISIBILITY_FIRST_CHECK_MS));
  }

  private markCommitted(item: Pending): void {
    const key = `${item.groupId} ${item.runId}`;
    const known = this.committed.get(key);
    if (!known || known.seq < item.seq) this.committed.set(key, item);
  }

  private schedule(at: number): void {
    if (this.sending || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.send();
    }, Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private async send(): Promise<void> {
    this.sending = true;
    const now = performance.now();
    const known = [...this.committed.values()];
    this.committed.clear();
    const toCheck: Pending[] = [];
    for (const item of this.uncommitted.values()) {
      if (now - item.since > VISIBILITY_GIVE_UP_MS) this.uncommitted.delete(item.seq);
      else if (item.checkAt <= now && toCheck.length < VISIBILITY_BATCH) toCheck.push(item);
    }
    try {
      if (this.database.notifyInProcess) {
        await this.sendInProcess(known, toCheck);
      } else if (known.length > 0 || toCheck.length > 0) {
        const result = await this.database.executeSql(
          `WITH checked AS (
             SELECT group_id::text AS g, run_id::text AS r, seq AS s FROM generation_events WHERE seq = ANY($1::bigint[])
           ), announced AS (
             SELECT g, r, max(s) AS s FROM (
               SELECT g, r, s FROM checked UNION ALL SELECT g, r, s FROM unnest($2::text[], $3::text[], $4::bigint[]) AS k (g, r, s)
             ) AS a GROUP BY g, r
           )
           SELECT (SELECT coalesce(array_agg(s), '{}') FROM checked) AS visible,
                  (SELECT count(n) FROM (SELECT pg_notify($5, json_build_object('g', g, 'r', r, 's', s)::text)::text AS n FROM announced) AS sent) AS notified`,
          [toCheck.map((item) => item.seq), known.map((item) => item.groupId), known.map((item) => item.runId), known.map((item) => item.seq), EVENTS_CHANNEL],
        );
        this.settleChecked(toCheck, new Set<number>((result.rows[0]?.visible ?? []).map(Number)));
      }
    } catch {
      // The database is away (restart, shutdown): these notifications are lost, and the hubs'
      // safety pull delivers their events. Transactions still open are looked for again.
      for (const item of toCheck) item.checkAt = performance.now() + VISIBILITY_MAX_CHECK_MS;
    } finally {
      this.sending = false;
      let next = this.committed.size > 0 ? performance.now() + NOTIFY_BATCH_MS : Infinity;
      for (const item of this.uncommitted.values()) next = Math.min(next, item.checkAt);
      if (next < Infinity) this.schedule(next);
    }
  }

  /**
   * PGlite: every listener is in this process, so the notifications are handed to them directly
   * instead of through `pg_notify` (a SQL round trip on the one connection). Only events written
   * inside a transaction still need a statement: the same visibility check, so nothing is
   * announced before its commit. Payloads are the ones `pg_notify` would carry.
   */
  private async sendInProcess(known: Pending[], toCheck: Pending[]): Promise<void> {
    const announced = new Map<string, { g: string; r: string; s: number }>();
    const add = (item: Pending) => {
      const key = `${item.groupId} ${item.runId}`;
      const current = announced.get(key);
      if (!current || current.s < item.seq) announced.set(key, { g: item.groupId, r: item.runId, s: item.seq });
    };
    for (const item of known) add(item);
    if (toCheck.length > 0) {
      const result = await this.database.executeSql(`SELECT coalesce(array_agg(seq), '{}') AS visible FROM generation_events WHERE seq = ANY($1::bigint[])`, [
        toCheck.map((item) => item.seq),
      ]);
      const visible = new Set<number>((result.rows[0]?.visible ?? []).map(Number));
      for (const item of toCheck) if (visible.has(item.seq)) add(item);
      this.settleChecked(toCheck, visible);
    }
    if (announced.size > 0) this.database.notifyInProcess!(EVENTS_CHANNEL, [...announced.values()].map((value) => JSON.stringify(value)));
  }

  /** Checked events found visible are done; the others are looked for again later, backing off. */
  private settleChecked(toCheck: Pending[], visible: Set<number>): void {
    const after = performance.now();
    for (const item of toCheck) {
      if (visible.has(item.seq)) {
        this.uncommitted.delete(item.seq);
      } else {
        item.delay = Math.min(item.delay * 2, VISIBILITY_MAX_CHECK_MS);
        item.checkAt = after + item.delay;
      }
    }
  }
}

/** For each group, its first `limit` events after its own position, oldest first within a group; one query. */
export async function readGroupsEvents(executor: Executor, positions: { groupId: string; afterSeq: number }[], limit: number): Promise<StoredEvent[]> {
  if (positions.length === 0) return [];
  const result = await sql<{ seq: number | string; run_id: string; group_id: string; payload: Record<string, unknown> }>`
    SELECT e.seq, e.run_id, e.group_id, e.payload
    FROM unnest(${positions.map((position) => position.groupId)}::uuid[], ${positions.map((position) => position.afterSeq)}::bigint[]) AS w (group_id, after_seq)
    CROSS JOIN LATERAL (
      SELECT seq, run_id, group_id, payload FROM generation_events
      WHERE group_id = w.group_id AND seq > w.after_seq
      ORDER BY seq
      LIMIT ${limit}
    ) AS e`.execute(executor);
  return result.rows.map((row) => ({ seq: Number(row.seq), runId: row.run_id, groupId: row.group_id, payload: row.payload }));
}

/** The group of each of `runIds` that has an event; runs without one are absent. */
export async function groupsOfRuns(database: Database, runIds: string[]): Promise<{ runId: string; groupId: string }[]> {
  const result = await database.executeSql(
    `SELECT DISTINCT ON (run_id) run_id, group_id FROM generation_events WHERE run_id = ANY($1::uuid[]) ORDER BY run_id, seq`,
    [runIds],
  );
  return result.rows.map((row) => ({ runId: row.run_id as string, groupId: row.group_id as string }));
}

/**
 * The highest event id ever handed out, deleted events included (the identity's sequence, not the
 * table's max, which falls when old events are deleted): a resume position beyond it names an
 * event nobody was sent.
 */
export async function lastIssuedSeq(executor: Executor): Promise<number> {
  // NULL before the first event, or to a role that may not read the sequence: then the table says.
  const result = await sql<{ last: string | number | null }>`SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('generation_events', 'seq')::regclass), (SELECT max(seq) FROM generation_events), 0) AS last`.execute(executor);
  return Number(result.rows[0]?.last ?? 0);
}

export async function readRunEvents(executor: Executor, runId: string): Promise<StoredEvent[]> {
  const rows = await executor
    .selectFrom('generation_events')
    .select(['seq', 'run_id', 'group_id', 'payload'])
    .where('run_id', '=', runId)
    .orderBy('seq')
    .execute();
  return rows.map((row) => ({ seq: Number(row.seq), runId: row.run_id, groupId: row.group_id, payload: row.payload }));
}

export async function deleteEventsOlderThan(executor: Executor, days: number): Promise<number> {
  const cutoff = new Date(Date.now() - days * 24 * 3600 * 1000);
  const result = await executor.deleteFrom('generation_events').where('created_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}
