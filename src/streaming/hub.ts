import type { Database, Unlisten } from '../db/database.ts';
import { EVENTS_CHANNEL, groupsOfRuns, parseNotification, readGroupsEvents, type StoredEvent } from './event-log.ts';

/** Receives the events of a subscription in `seq` order, each exactly once. */
export type EventSink = (events: StoredEvent[]) => void;

export interface EventSubscription {
  /** Highest seq handed to the sink so far. */
  readonly lastSeq: number;
  close(): void;
}

interface Subscriber {
  groupId: string;
  /** Only this run's events, when set. */
  runId?: string;
  lastSeq: number;
  sink: EventSink;
  closed: boolean;
}

interface GroupEntry {
  subscribers: Set<Subscriber>;
}

const PULL_PAGE = 1000;
/** Notifications arriving within this long are served by one read. */
const PULL_DEBOUNCE_MS = 3;
/** Groups read per query. */
const PULL_GROUPS = 500;
/** Every watched group is read this often even without a notification. */
const SAFETY_PULL_MS = 3_000;

/**
 * One per process: LISTENs once on the event channel and fans events out to its subscribers.
 *
 * A notification only says "group G has something new"; the hub then reads the group's rows after
 * the lowest position any of its subscribers has reached, and hands each subscriber the rows past
 * its own position. The groups notified within a few milliseconds are read together, in one query
 * (one reader at a time, so a subscriber's position only moves forward). Replay at subscribe time is the same read, so there is one code path for
 * history and live events, and no gap or duplicate where they meet. Payload size never matters.
 */
export class EventHub {
  private readonly groups = new Map<string, GroupEntry>();
  private readonly runWaiters = new Map<string, Set<(groupId: string) => void>>();
  private unlisten?: Unlisten;
  private safetyTimer?: NodeJS.Timeout;
  /** Groups to read at the next pull. */
  private readonly dirty = new Set<string>();
  private pullTimer?: NodeJS.Timeout;
  private pulling = false;

  constructor(
    private readonly database: Database,
    private readonly options: { safetyPullMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(EVENTS_CHANNEL, (text) => {
      const notification = parseNotification(text);
      if (!notification) return;
      this.runFound(notification.runId, notification.groupId);
      if (this.groups.has(notification.groupId)) this.pull(notification.groupId);
    }, () => this.resume()); // the listening connection was restored
    // A writer that dies between its commit and the batched notification never sends it; a pull
    // of every watched group every few seconds (one query per 500 groups, an index probe each)
    // bounds how long an event can wait.
    this.safetyTimer = setInterval(() => this.pullAll(), this.options.safetyPullMs ?? SAFETY_PULL_MS);
    this.safetyTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.safetyTimer) clearInterval(this.safetyTimer);
    if (this.pullTimer) clearTimeout(this.pullTimer);
    this.pullTimer = undefined;
    this.dirty.clear();
    await this.unlisten?.();
    this.unlisten = undefined;
    this.groups.clear();
    this.runWaiters.clear();
  }

  /** The listening connection was restored: what it missed is read now. */
  private resume(): void {
    this.pullAll();
    const waiting = [...this.runWaiters.keys()];
    if (waiting.length === 0) return;
    void groupsOfRuns(this.database, waiting).then((found) => {
      for (const { runId, groupId } of found) this.runFound(runId, groupId);
    }, () => {});
  }

  /** The run has an event in `groupId`: whoever waited for it to exist is told, once. */
  private runFound(runId: string, groupId: string): void {
    const waiters = this.runWaiters.get(runId);
    if (!waiters) return;
    this.runWaiters.delete(runId);
    for (const waiter of waiters) waiter(groupId);
  }

  private pullAll(): void {
    for (const groupId of this.groups.keys()) this.pull(groupId);
  }

  get subscriberCount(): number {
    let count = 0;
    for (const entry of this.groups.values()) count += entry.subscribers.size;
    return count;
  }

  /** Delivers every event of the group (or of one run in it) after `afterSeq`, then live ones. */
  subscribe(scope: { groupId: string; runId?: string }, afterSeq: number, sink: EventSink): EventSubscription {
    const subscriber: Subscriber = { groupId: scope.groupId, runId: scope.runId, lastSeq: afterSeq, sink, closed: false };
    let entry = this.groups.get(scope.groupId);
    if (!entry) {
      entry = { subscribers: new Set() };
      this.groups.set(scope.groupId, entry);
    }
    entry.subscribers.add(subscriber);
    this.pull(scope.groupId);
    return {
      get lastSeq() {
        return subscriber.lastSeq;
      },
      close: () => this.remove(subscriber),
    };
  }

  /**
   * Calls `onAppeared(groupId)` once the first event of run `runId` is committed. The caller
   * checks the run table right after registering, since the run may already exist.
   */
  waitForRun(runId: string, onAppeared: (groupId: string) => void): () => void {
    let waiters = this.runWaiters.get(runId);
    if (!waiters) {
      waiters = new Set();
      this.runWaiters.set(runId, waiters);
    }
    waiters.add(onAppeared);
    return () => {
      const current = this.runWaiters.get(runId);
      current?.delete(onAppeared);
      if (current && current.size === 0) this.runWaiters.delete(runId);
    };
  }

  private remove(subscriber: Subscriber): void {
    subscriber.closed = true;
    const entry = this.groups.get(subscriber.groupId);
    if (!entry) return;
    entry.subscribers.delete(subscriber);
    if (entry.subscribers.size === 0) this.groups.delete(subscriber.groupId);
  }

  private pull(groupId: string): void {
    if (!this.groups.has(groupId)) return;
    this.dirty.add(groupId);
    this.schedulePull();
  }

  private schedulePull(): void {
    if (this.pulling || this.pullTimer || this.dirty.size === 0) return;
    this.pullTimer = setTimeout(() => {
      this.pullTimer = undefined;
      void this.drain();
    }, PULL_DEBOUNCE_MS);
  }

  private async drain(): Promise<void> {
    this.pulling = true;
    try {
      while (this.dirty.size > 0) {
        const wanted: { groupId: string; afterSeq: number }[] = [];
        for (const groupId of this.dirty) {
          this.dirty.delete(groupId);
          const entry = this.groups.get(groupId);
          if (!entry || entry.subscribers.size === 0) continue;
          let from = Infinity;
          for (const subscriber of entry.subscribers) from = Math.min(from, subscriber.lastSeq);
          wanted.push({ groupId, afterSeq: from });
          if (wanted.length === PULL_GROUPS) break;
        }
        if (wanted.length === 0) continue;
        let events: StoredEvent[];
        try {
          events = await readGroupsEvents(this.database.db, wanted, PULL_PAGE);
        } catch {
          // The database is away (restart, shutdown); the next notification or safety pull retries.
          return;
        }
        const byGroup = new Map<string, StoredEvent[]>();
        for (const event of events) {
          let list = byGroup.get(event.groupId);
          if (!list) byGroup.set(event.groupId, (list = []));
          list.push(event);
        }
        for (const { groupId, afterSeq } of wanted) {
          const list = (byGroup.get(groupId) ?? []).sort((a, b) => a.seq - b.seq);
          const entry = this.groups.get(groupId);
          if (!entry) continue;
          for (const subscriber of [...entry.subscribers]) {
            // One that subscribed during the read, behind its start: its own read comes next (it is dirty).
            if (subscriber.lastSeq < afterSeq) continue;
            this.deliver(subscriber, list);
          }
          if (list.length === PULL_PAGE) this.dirty.add(groupId);
        }
      }
    } finally {
      this.pulling = false;
      this.schedulePull();
    }
  }

  private deliver(subscriber: Subscriber, events: StoredEvent[]): void {
    if (subscriber.closed) return;
    const fresh = events.filter((event) => event.seq > subscriber.lastSeq && (!subscriber.runId || event.runId === subscriber.runId));
    // Position moves past rows of other runs too, so a run-scoped subscriber never re-reads them.
    const last = events.at(-1);
    if (last && last.seq > subscriber.lastSeq) subscriber.lastSeq = last.seq;
    if (fresh.length > 0) subscriber.sink(fresh);
  }
}
