import type { Database, Executor } from '../db/database.ts';
import { MAINTENANCE_WAIT_MS, type ForegroundWork } from '../http/foreground.ts';
import { deleteEventsOlderThan } from '../streaming/event-log.ts';
import { errorEvent } from './events.ts';
import { endRun } from './lifecycle.ts';
import type { RunQueue } from './queue.ts';
import { envelopeOf } from './service.ts';
import { expiredRuns, postponeQueuedRecheck, requeueExpiredRun, staleQueuedRuns } from './store.ts';

export interface SweeperOptions {
  database: Database;
  queue: RunQueue;
  maxAttempts: number;
  intervalMs: number;
  retentionDays: number;
  /** Requests being served: a sweep waits for a burst of them to be answered. */
  foreground?: ForegroundWork;
}

const RETENTION_EVERY_MS = 60 * 60 * 1000;

/**
 * Runs in every process (API-only ones too): hands a run whose worker died (its lease expired)
 * back to the queue, or ends it when it has been tried too often or was cancelled meanwhile;
 * enqueues again a run left queued so long that its job may be lost; and deletes events past
 * their retention.
 */
export class RunSweeper {
  private timer?: NodeJS.Timeout;
  private sweeping = false;
  private lastRetention = 0;

  constructor(private readonly options: SweeperOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.options.foreground?.quietOrAfter(MAINTENANCE_WAIT_MS);
      if (!this.timer) return; // stopped meanwhile
      await this.sweepOnce();
      if (Date.now() - this.lastRetention >= RETENTION_EVERY_MS) {
        this.lastRetention = Date.now();
        await deleteEventsOlderThan(this.options.database.db, this.options.retentionDays);
      }
    } catch {
      // Database away for a moment: the next tick tries again.
    } finally {
      this.sweeping = false;
    }
  }

  /** One pass over runs with expired leases and stale queued runs; returns how many it handled. */
  async sweepOnce(): Promise<number> {
    const { database, maxAttempts } = this.options;
    let handled = 0;
    let enqueued = 0;
    for (const runId of await staleQueuedRuns(database.db, 50)) {
      if (await this.enqueueIf(runId, (trx) => postponeQueuedRecheck(trx, runId))) enqueued += 1;
    }
    for (const run of await expiredRuns(database.db, 50)) {
      const envelope = envelopeOf(run);
      const fence = { expiredOrQueued: true as const };
      if (run.cancel_requested) {
        if (await endRun(database, run, 'cancelled', fence, errorEvent(envelope, run.artifact_type, run.id, 'Cancelled by request before it finished.'))) handled += 1;
      } else if (run.attempts >= maxAttempts) {
        const message = `Gave up after ${run.attempts} attempts: the worker running it stopped responding each time.`;
        if (await endRun(database, run, 'error', fence, errorEvent(envelope, run.artifact_type, run.id, message))) handled += 1;
      } else if (await this.enqueueIf(run.id, (trx) => requeueExpiredRun(trx, run.id))) {
        enqueued += 1;
      }
    }
    if (enqueued > 0) this.options.queue.wakeWorker();
    return handled + enqueued;
  }

  /** Enqueues the run's job in the transaction where `claim` (a conditional update of the run) held; false when it did not. */
  private enqueueIf(runId: string, claim: (trx: Executor) => Promise<boolean>): Promise<boolean> {
    return this.options.database.db.transaction().execute(async (trx) => {
      if (!(await claim(trx))) return false;
      await this.options.queue.enqueue(runId, trx);
      return true;
    });
  }
}
