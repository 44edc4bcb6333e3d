import type { Database } from '../db/database.ts';
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
    const { database, queue, maxAttempts } = this.options;
    const runs = await expiredRuns(database.db, 50);
    let handled = 0;
    for (const runId of await staleQueuedRuns(database.db, 50)) {
      const enqueued = await database.db.transaction().execute(async (trx) => {
        if (!(await postponeQueuedRecheck(trx, runId))) return false;
        await queue.enqueue({ run_id: runId }, trx);
        return true;
      });
      if (enqueued) handled += 1;
    }
    if (handled > 0) queue.wakeWorker();
    for (const run of runs) {
      const envelope = envelopeOf(run);
      const fence = { expiredOrQueued: true as const };
      if (run.cancel_requested) {
        if (await endRun(database, run, 'cancelled', fence, errorEvent(envelope, run.artifact_type, run.id, 'Cancelled by request before it finished.'))) handled += 1;
      } else if (run.attempts >= maxAttempts) {
        const message = `Gave up after ${run.attempts} attempts: the worker running it stopped responding each time.`;
        if (await endRun(database, run, 'error', fence, errorEvent(envelope, run.artifact_type, run.id, message))) handled += 1;
      } else {
        const requeued = await database.db.transaction().execute(async (trx) => {
          if (!(await requeueExpiredRun(trx, run.id))) return false;
          await queue.enqueue({ run_id: run.id }, trx);
          return true;
        });
        if (requeued) {
          queue.wakeWorker();
          handled += 1;
        }
      }
    }
    return handled;
  }
}
