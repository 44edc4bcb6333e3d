import type { ArtifactService } from '../artifacts/service.ts';
import type { Database } from '../db/database.ts';
import { deadlineOf, endAttempt } from './service.ts';
import { timedAttemptsInProgress } from './store.ts';

/**
 * Ends the attempts whose simulation's time limit has run out, at their deadline, so a learner
 * who walked away does not leave an attempt `in_progress` for ever (a turn or attempt/end would
 * end it too, but may never come). Ending is idempotent: two processes sweeping at once end each
 * attempt once. Returns the ids it ended.
 */
export async function endTimedOutAttempts(
  database: Database,
  artifacts: ArtifactService,
  options: { now?: number; onError?: (attemptId: string, error: unknown) => void } = {},
): Promise<string[]> {
  const now = options.now ?? Date.now();
  const ended: string[] = [];
  for (const attempt of await timedAttemptsInProgress(database.db)) {
    const deadline = deadlineOf({ time_limit_minutes: attempt.time_limit_minutes }, { started_at: attempt.started_at ?? undefined });
    if (!(deadline <= now)) continue;
    // Written as its writer (the learner, for a started attempt), who may always write it, in the session that started it.
    const actor = { orgId: attempt.org_id, profileId: attempt.created_by, role: attempt.creator_role ?? 'member', sessionId: attempt.session_id, isOperator: false } as const;
    try {
      if (await endAttempt(database, artifacts, actor, attempt.id, new Date(deadline).toISOString())) ended.push(attempt.id);
    } catch (error) {
      // One attempt that cannot be written (its record no longer passes its schema) must not hold up the rest.
      options.onError?.(attempt.id, error);
    }
  }
  return ended;
}
