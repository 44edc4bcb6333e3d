import PgBoss from 'pg-boss';
import type { Database, Executor } from '../db/database.ts';

export const RUN_QUEUE = 'glow-generation-run';

export interface RunJob {
  run_id: string;
}

/** How often an idle worker pool looks for jobs nobody told it about (other processes' triggers, the sweeper's requeues). */
const POLL_MS = 500;
/** How long finished jobs and freed slots wait to be handled together. */
const REFILL_DELAY_MS = 2;
const COMPLETE_DELAY_MS = 25;

/**
 * The durable job queue (pg-boss) over Glow's own database connection, so it works the same on
 * PGlite and PostgreSQL and a job can be enqueued inside the transaction that writes its run.
 *
 * Jobs are taken by one fetch loop per process rather than one pg-boss worker per slot: it fetches
 * as many jobs as it has free slots in one statement, fetches again as soon as a slot frees (not at
 * the next poll), and completes finished jobs in batches. Runs stay independent: a slow run never
 * holds up the next fetch.
 */
export class RunQueue {
  private readonly boss: PgBoss;
  private started = false;
  private stopping = false;
  private slots = 0;
  private running = 0;
  private handler?: (job: RunJob) => Promise<void>;
  private fetching = false;
  private fetchAgain = false;
  private pollTimer?: NodeJS.Timeout;
  private refillTimer?: NodeJS.Timeout;
  private readonly finished: string[] = [];
  private completing?: Promise<void>;
  private readonly active = new Set<Promise<void>>();

  constructor(private readonly database: Database) {
    this.boss = new PgBoss({
      db: { executeSql: (text, values) => database.executeSql(text, values) },
      // Glow's own sweeper takes over runs of dead workers; pg-boss only has to deliver a job once.
      retryLimit: 0,
      expireInSeconds: 15 * 60,
    });
    this.boss.on('error', () => {
      // pg-boss reports transient maintenance failures here; jobs are retried by its next cycle.
    });
  }

  async start(): Promise<void> {
    await this.boss.start();
    this.started = true;
    await this.boss.createQueue(RUN_QUEUE);
  }

  /** Runs `handler` for each job, up to `concurrency` at a time. */
  async work(concurrency: number, handler: (job: RunJob) => Promise<void>): Promise<void> {
    this.slots = concurrency;
    this.handler = handler;
    this.pollTimer = setInterval(() => this.wakeWorker(), POLL_MS);
    this.pollTimer.unref();
    this.wakeWorker();
  }

  /** Enqueues inside `executor` (the run's transaction): the job exists exactly when the run does. */
  async enqueue(job: RunJob, executor: Executor): Promise<void> {
    await this.enqueueMany([job], executor);
  }

  /** Several jobs in one statement, inside `executor`. */
  async enqueueMany(jobs: RunJob[], executor: Executor): Promise<void> {
    if (jobs.length === 0) return;
    await this.boss.insert(
      jobs.map((data) => ({ name: RUN_QUEUE, data })),
      { db: { executeSql: (text, values) => this.database.executeSql(text, values, executor) } },
    );
  }

  /** Looks for jobs now instead of at the next poll (call once a job is committed). */
  wakeWorker(): void {
    if (!this.handler || this.stopping) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    if (this.running >= this.slots) return;
    this.fetching = true;
    void this.fetchLoop();
  }

  private async fetchLoop(): Promise<void> {
    try {
      do {
        this.fetchAgain = false;
        const free = this.slots - this.running;
        if (free <= 0 || this.stopping) break;
        let jobs: { id: string; data: RunJob }[] = [];
        try {
          jobs = (await this.boss.fetch<RunJob>(RUN_QUEUE, { batchSize: free })) ?? [];
        } catch {
          break; // The database is away for a moment: the next poll retries.
        }
        for (const job of jobs) this.startJob(job);
        // A full batch means more may be waiting.
        if (jobs.length === free) this.fetchAgain = true;
      } while (this.fetchAgain);
    } finally {
      this.fetching = false;
    }
  }

  private startJob(job: { id: string; data: RunJob }): void {
    this.running += 1;
    const done: Promise<void> = this.handler!(job.data)
      .catch(() => {
        // The executor ends its runs itself; a failure here leaves the run to its lease and the sweeper.
      })
      .finally(() => {
        this.running -= 1;
        this.active.delete(done);
        this.finished.push(job.id);
        void this.completeFinished();
        // Runs tend to finish in bursts: a moment's wait fills several slots with one fetch.
        if (!this.refillTimer) {
          this.refillTimer = setTimeout(() => {
            this.refillTimer = undefined;
            this.wakeWorker();
          }, REFILL_DELAY_MS);
        }
      });
    this.active.add(done);
  }

  /** Marks finished jobs completed, many per statement. */
  private completeFinished(): Promise<void> {
    if (this.completing) return this.completing;
    this.completing = (async () => {
      try {
        if (!this.stopping) await new Promise((resolve) => setTimeout(resolve, COMPLETE_DELAY_MS));
        while (this.finished.length > 0) {
          const ids = this.finished.splice(0, 500);
          await this.boss.complete(RUN_QUEUE, ids).catch(() => {
            // Left active, the job expires in pg-boss; the run itself is already ended or leased.
          });
        }
      } finally {
        this.completing = undefined;
      }
    })();
    return this.completing;
  }

  /** Takes no more jobs; runs already started go on. */
  stopFetching(): void {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.refillTimer) clearTimeout(this.refillTimer);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopFetching();
    await Promise.allSettled([...this.active]);
    await this.completeFinished();
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }
}
