import type { ArtifactService } from '../artifacts/service.ts';
import type { Database } from '../db/database.ts';
import { deadlineOf, endAttempt } from './service.ts';
import { timedAttemptsInProgress } from './store.ts';

const SWEEP_EVERY_MS = 60_000;

/**
 * Ends attempts whose simulation's time limit has run out, at their deadline, so a learner who
 * walked away does not leave an attempt `in_progress` for ever (a turn or attempt/end would end
 * it too, but may never come). Runs in every process; ending is idempotent, so two processes
 * sweeping at once end each attempt once.
 */
export class AttemptDeadlines {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly database: Database,
    private readonly artifacts: ArtifactService,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), SWEEP_EVERY_MS);
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
    } catch {
      // Database away for a moment: the next tick tries again.
    } finally {
      this.sweeping = false;
    }
  }

  /** Ends every timed-out attempt; returns the ids it ended. */
  async sweepOnce(now = Date.now()): Promise<string[]> {
    const ended: string[] = [];
    for (const attempt of await timedAttemptsInProgress(this.database.db)) {
      const deadline = deadlineOf({ time_limit_minutes: attempt.time_limit_minutes }, { started_at: attempt.started_at ?? undefined });
      if (!(deadline <= now)) continue;
      // The learner's own write, as a turn sent after the deadline would have made it.
      const actor = { orgId: attempt.org_id, profileId: attempt.learner_profile_id, role: attempt.learner_role ?? 'member', sessionId: attempt.session_id, isOperator: false } as const;
      if (await endAttempt(this.database, this.artifacts, actor, attempt.id, new Date(deadline).toISOString())) ended.push(attempt.id);
    }
    return ended;
  }
}
