import PgBoss from 'pg-boss';
import type { ForegroundWork } from '../http/foreground.ts';
import type { Database, Executor } from '../db/database.ts';
import { withSessionLock } from '../db/session-lock.ts';

const RUN_QUEUE = 'glow-generation-run';

/** A job carries up to RUNS_PER_JOB runs (`run_id`: a job enqueued before jobs carried several). */
type RunJob = { run_ids: string[] } | { run_id: string };

/**
 * Runs per job. A burst of triggers committed together enqueues one job per this many runs, not
 * one per run: each job row costs the trigger's transaction about as much as its run row. A
 * worker fetches as many jobs as its free slots can take in runs.
 */
export const RUNS_PER_JOB = 8;

function runIdsOf(job: RunJob): string[] {
  return 'run_ids' in job ? job.run_ids : [job.run_id];
}

/** How often an idle worker pool looks for jobs nobody told it about (other processes' triggers, the sweeper's requeues). */
const POLL_MS = 500;
/** The longest a wake waits for the requests being served to be answered: under steady load runs still start, this much later. */
const STEADY_LOAD_MS = 50;
/** How long finished jobs and freed slots wait to be handled together. */
const REFILL_DELAY_MS = 2;
const COMPLETE_DELAY_MS = 25;
/**
 * Runs a process fetched beyond its free slots wait there at most this long before going back to
 * the queue, for any process: a burst of fast runs fills the slots as they free, while the runs
 * of a job taken by a process busy with slow ones do not sit behind them.
 */
const HAND_BACK_MS = 1_000;

/**
 * Marks queued runs this process fetched, but has no free slot for yet, as looked after for `ms`:
 * should the process die, the sweeper enqueues them again once that has passed, rather than after
 * the 10 minutes a queued run otherwise waits before it is presumed lost.
 */
export type HoldRuns = (runIds: string[], ms: number) => Promise<void>;

export interface WorkOptions {
  /** Runs of this process at once. */
  concurrency: number;
  /** Executes one run. */
  handler: (runId: string) => Promise<void>;
  hold: HoldRuns;
  /** How long a hold lasts (well beyond the hand-back). */
  holdMs: number;
  /** How long fetched runs wait here for a slot before going back to the queue (default HAND_BACK_MS). */
  handBackMs?: number;
  /**
   * Requests being served. Starting runs costs the process CPU (and on PGlite its one connection)
   * that they are waiting for: a burst is answered first, and runs start once it is quiet, or at
   * once under steady load.
   */
  foreground?: ForegroundWork;
}

/**
 * The durable job queue (pg-boss) over Glow's own database connection, so it works the same on
 * PGlite and PostgreSQL and a job can be enqueued inside the transaction that writes its run.
 *
 * Jobs are taken by one fetch loop per process rather than one pg-boss worker per slot: it fetches
 * as many jobs as its free slots can take in runs, in one statement, fetches again as soon as a
 * slot frees (not at the next poll), and completes finished jobs in batches. A job's runs beyond
 * the free slots wait here (held, see HoldRuns) and take the next slots that free, before any new
 * job is fetched; those still waiting after HAND_BACK_MS go back to the queue. Runs stay
 * independent: a slow run never holds up the next one.
 */
export class RunQueue {
  private readonly boss: PgBoss;
  private started = false;
  private stopping = false;
  private work?: WorkOptions;
  private running = 0;
  private fetching?: Promise<void>;
  private fetchAgain = false;
  private deferredWake?: Promise<void>;
  private pollTimer?: NodeJS.Timeout;
  private refillTimer?: NodeJS.Timeout;
  private handBackTimer?: NodeJS.Timeout;
  private readonly finished: string[] = [];
  /** Runs of each fetched job not yet ended here (waiting or executing): the job is completed when none is left. */
  private readonly runsLeft = new Map<string, number>();
  /** Fetched runs waiting for a slot, in job order. */
  private waiting: { runId: string; jobId: string }[] = [];
  private completing?: Promise<void>;
  private readonly active = new Set<Promise<void>>();

  /** `name`: the pg-boss queue (another name gives a queue of its own, as tests need). */
  constructor(
    private readonly database: Database,
    private readonly name = RUN_QUEUE,
  ) {
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
    // pg-boss's setup does not expect another process doing it at the same moment: on a new
    // database two processes starting at once made the pgboss schema twice, or deadlocked creating
    // the queue. So processes take turns. PGlite is one process, and its one connection cannot be
    // held for a lock while pg-boss needs it.
    const setUp = async () => {
      await this.boss.start();
      this.started = true;
      await this.boss.createQueue(this.name);
    };
    await (this.database.parallelTransactions ? withSessionLock(this.database, 'glow.run-queue-setup', setUp) : setUp());
  }

  /** Executes the runs of the queue's jobs, up to `concurrency` at a time. */
  async startWorking(work: WorkOptions): Promise<void> {
    this.work = work;
    this.pollTimer = setInterval(() => this.wakeWorker(), POLL_MS);
    this.pollTimer.unref();
    this.wakeWorker();
  }

  /** Enqueues inside `executor` (the run's transaction): the job exists exactly when the run does. */
  async enqueue(runId: string, executor: Executor): Promise<void> {
    await this.enqueueMany([runId], executor);
  }

  /** Jobs for many runs (RUNS_PER_JOB each) in one statement, inside `executor`. */
  async enqueueMany(runIds: string[], executor: Executor): Promise<void> {
    const jobs: PgBoss.JobInsert<RunJob>[] = [];
    for (let start = 0; start < runIds.length; start += RUNS_PER_JOB) {
      jobs.push({ name: this.name, data: { run_ids: runIds.slice(start, start + RUNS_PER_JOB) } });
    }
    if (jobs.length === 0) return;
    await this.boss.insert(jobs, { db: { executeSql: (text, values) => this.database.executeSql(text, values, executor) } });
  }

  /** Looks for jobs now instead of at the next poll (call once a job is committed); see WorkOptions.foreground. */
  wakeWorker(): void {
    if (!this.work || this.stopping) return;
    const foreground = this.work.foreground;
    // A wake already waiting covers this one: it fetches for every free slot.
    if (this.deferredWake) return;
    if (foreground && !foreground.quiet) {
      this.deferredWake = foreground.quietOrAfter(STEADY_LOAD_MS).then(() => {
        this.deferredWake = undefined;
        this.fetchNow();
      });
      return;
    }
    this.fetchNow();
  }

  private fetchNow(): void {
    if (!this.work || this.stopping) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    if (this.running >= this.work.concurrency) return;
    this.fetching = this.fetchLoop()
      .catch(() => {
        // Nothing in the loop is expected to throw; the next wake or poll starts it again.
      })
      .finally(() => {
        this.fetching = undefined;
      });
  }

  private async fetchLoop(): Promise<void> {
    const work = this.work!;
    do {
      this.fetchAgain = false;
      const free = work.concurrency - this.running;
      if (free <= 0 || this.stopping) break;
      if (this.waiting.length > 0) {
        for (const run of this.waiting.splice(0, free)) this.startRun(run.runId, run.jobId);
        if (this.waiting.length > 0) break;
        this.cancelHandBack();
        // Slots are left over: fetch for them.
        this.fetchAgain = true;
        continue;
      }
      const batchSize = Math.ceil(free / RUNS_PER_JOB);
      let jobs: { id: string; data: RunJob }[] = [];
      try {
        jobs = (await this.boss.fetch<RunJob>(this.name, { batchSize })) ?? [];
      } catch {
        break; // The database is away for a moment: the next poll retries.
      }
      const runs = jobs.flatMap((job) => runIdsOf(job.data).map((runId) => ({ runId, jobId: job.id })));
      for (const job of jobs) this.runsLeft.set(job.id, runIdsOf(job.data).length);
      // Stopped while fetching: all of them wait, and go back (stopFetching).
      const surplus = runs.splice(this.stopping ? 0 : free);
      this.waiting.push(...surplus);
      for (const run of runs) this.startRun(run.runId, run.jobId);
      if (surplus.length > 0 && !this.stopping) {
        work.hold(surplus.map((run) => run.runId), work.holdMs).catch(() => {
          // Unheld, they are still enqueued again if lost, only later (see HoldRuns).
        });
        this.handBackTimer ??= setTimeout(() => {
          this.handBackTimer = undefined;
          void this.handBack();
        }, work.handBackMs ?? HAND_BACK_MS).unref();
      }
      // A full batch means more may be waiting.
      if (jobs.length === batchSize) this.fetchAgain = true;
    } while (this.fetchAgain);
  }

  private cancelHandBack(): void {
    clearTimeout(this.handBackTimer);
    this.handBackTimer = undefined;
  }

  /** Puts the runs still waiting back in the queue, for any process. */
  private async handBack(): Promise<void> {
    this.cancelHandBack();
    const waiting = this.waiting;
    this.waiting = [];
    if (waiting.length === 0) return;
    try {
      await this.enqueueMany(waiting.map((run) => run.runId), this.database.db);
      for (const run of waiting) this.runEnded(run.jobId);
    } catch {
      // The database is away: they stay here for the next free slots (should this process be
      // stopping, their hold lapses and the sweeper enqueues them again).
      if (!this.stopping) this.waiting.unshift(...waiting);
    }
  }

  private startRun(runId: string, jobId: string): void {
    this.running += 1;
    const done: Promise<void> = this.work!.handler(runId)
      .catch(() => {
        // The executor ends its runs itself; a failure here leaves the run to its lease and the sweeper.
      })
      .finally(() => {
        this.running -= 1;
        this.active.delete(done);
        this.runEnded(jobId);
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

  private runEnded(jobId: string): void {
    const left = this.runsLeft.get(jobId)! - 1;
    if (left > 0) {
      this.runsLeft.set(jobId, left);
      return;
    }
    this.runsLeft.delete(jobId);
    this.finished.push(jobId);
    void this.completeFinished();
  }

  /** Marks finished jobs completed, many per statement. */
  private completeFinished(): Promise<void> {
    if (this.completing) return this.completing;
    this.completing = (async () => {
      try {
        if (!this.stopping) {
          await new Promise((resolve) => setTimeout(resolve, COMPLETE_DELAY_MS));
          // Bookkeeping only (the runs have ended): it waits for a burst of requests to be answered.
          await this.work?.foreground?.quietOrAfter(STEADY_LOAD_MS);
        }
        while (this.finished.length > 0) {
          const ids = this.finished.splice(0, 500);
          await this.boss.complete(this.name, ids).catch(() => {
            // Left active, the job expires in pg-boss; the run itself is already ended or leased.
          });
        }
      } finally {
        this.completing = undefined;
      }
    })();
    return this.completing;
  }

  /** Takes no more jobs; runs already started go on, runs still waiting go back to the queue. */
  async stopFetching(): Promise<void> {
    this.stopping = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.refillTimer);
    await this.fetching;
    await this.handBack();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.stopFetching();
    await Promise.allSettled([...this.active]);
    await this.completeFinished();
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }
}
