import PgBoss from 'pg-boss';
import type { Database, Executor } from '../db/database.ts';

export const RUN_QUEUE = 'glow-generation-run';

export interface RunJob {
  run_id: string;
}

/**
 * The durable job queue (pg-boss) over Glow's own database connection, so it works the same on
 * PGlite and PostgreSQL and a job can be enqueued inside the transaction that writes its run.
 */
export class RunQueue {
  private readonly boss: PgBoss;
  private readonly workerIds: string[] = [];
  private nextWorker = 0;
  private started = false;

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

  /** Runs `handler` for each job, `concurrency` at a time (one pg-boss worker per slot). */
  async work(concurrency: number, handler: (job: RunJob) => Promise<void>): Promise<void> {
    for (let slot = 0; slot < concurrency; slot += 1) {
      const id = await this.boss.work<RunJob>(RUN_QUEUE, { pollingIntervalSeconds: 0.5, batchSize: 1 }, async (jobs) => {
        for (const job of jobs) await handler(job.data);
      });
      this.workerIds.push(id);
    }
  }

  /** Enqueues inside `executor` (the run's transaction): the job exists exactly when the run does. */
  async enqueue(job: RunJob, executor: Executor): Promise<void> {
    await this.boss.send(RUN_QUEUE, job, { db: { executeSql: (text, values) => this.database.executeSql(text, values, executor) } });
  }

  /** Wakes a local worker now instead of at its next poll (the job is committed by then). */
  wakeWorker(): void {
    if (this.workerIds.length === 0) return;
    this.boss.notifyWorker(this.workerIds[this.nextWorker % this.workerIds.length]!);
    this.nextWorker += 1;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }
}
