import type { Migration } from 'kysely';
import * as core from './0001_core.ts';
import * as media from './0002_media.ts';
import * as generation from './0003_generation.ts';
import * as runsOrgReference from './0004_runs_org_reference.ts';
import * as runsGroupReference from './0005_runs_group_reference.ts';
import * as identityChanges from './0006_identity_changes.ts';
import * as transcriptGroups from './0007_transcript_groups.ts';
import * as tokenRecords from './0008_token_records.ts';
import * as attemptsInProgress from './0009_attempts_in_progress.ts';

/**
 * Every migration, in order. Names sort in the order they apply; a concern adds its own file
 * and one line here. Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_core': core,
  '0002_media': media,
  '0003_generation': generation,
  '0004_runs_org_reference': runsOrgReference,
  '0005_runs_group_reference': runsGroupReference,
  '0006_identity_changes': identityChanges,
  '0007_transcript_groups': transcriptGroups,
  '0008_token_records': tokenRecords,
  '0009_attempts_in_progress': attemptsInProgress,
};
