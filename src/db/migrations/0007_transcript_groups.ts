import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * An attempt's transcript group (opened by attempt/start) has the learner's profile, session and
 * the family `attempt`: the same key as the caller's generation window for that family, so an
 * `attempt/generate` without a group joined the transcript. Transcript groups are now marked and
 * no window lookup finds them; those made before are found through the attempts that name them
 * (the group must be the attempt's learner's, as a turn requires: an admin may write any group id
 * into an attempt). A transcript whose attempt was deleted stays unmarked.
 */
export const MARK_EXISTING_TRANSCRIPTS =
  "UPDATE generation_groups g SET transcript = true WHERE g.artifact_type = 'attempt' AND NOT g.transcript AND EXISTS (SELECT 1 FROM artifacts a WHERE a.type = 'attempt' AND a.org_id = g.org_id AND a.data->>'group_id' = g.id::text AND g.profile_id::text = coalesce(a.data->>'learner_profile_id', a.created_by::text))";

export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(db, `ALTER TABLE generation_groups ADD COLUMN transcript boolean NOT NULL DEFAULT false;\n${MARK_EXISTING_TRANSCRIPTS};`);
}
