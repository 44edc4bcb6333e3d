import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE generation_groups (
      id uuid PRIMARY KEY,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      artifact_type text NOT NULL,
      profile_id uuid NOT NULL,
      session_id uuid NOT NULL,
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_activity_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX generation_groups_listing ON generation_groups (org_id, artifact_type, created_at DESC, id DESC);
    CREATE INDEX generation_groups_window ON generation_groups (profile_id, session_id, artifact_type, last_activity_at DESC);
    CREATE TABLE generation_runs (
      id uuid PRIMARY KEY,
      group_id uuid NOT NULL REFERENCES generation_groups(id) ON DELETE CASCADE,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      artifact_type text NOT NULL,
      profile_id uuid NOT NULL,
      session_id uuid NOT NULL,
      status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'error', 'cancelled')),
      request jsonb NOT NULL,
      request_hash text NOT NULL,
      idempotency_key uuid,
      model_id text,
      agent_id uuid,
      input_tokens integer NOT NULL DEFAULT 0,
      output_tokens integer NOT NULL DEFAULT 0,
      cost numeric(20, 10) NOT NULL DEFAULT 0,
      lease_owner text,
      lease_expires_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      cancel_requested boolean NOT NULL DEFAULT false,
      terminal_event_seq bigint,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      ended_at timestamptz
    );
    CREATE INDEX generation_runs_group ON generation_runs (group_id, created_at);
    CREATE INDEX generation_runs_unfinished ON generation_runs (lease_expires_at) WHERE status IN ('queued', 'running');
    CREATE TABLE generation_messages (
      id uuid PRIMARY KEY,
      run_id uuid NOT NULL REFERENCES generation_runs(id) ON DELETE CASCADE,
      group_id uuid NOT NULL REFERENCES generation_groups(id) ON DELETE CASCADE,
      role text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
      text text NOT NULL DEFAULT '',
      text_upload_ids uuid[] NOT NULL DEFAULT '{}',
      audio_upload_ids uuid[] NOT NULL DEFAULT '{}',
      image_upload_ids uuid[] NOT NULL DEFAULT '{}',
      video_upload_ids uuid[] NOT NULL DEFAULT '{}',
      file_upload_ids uuid[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX generation_messages_run ON generation_messages (run_id, created_at, id);
    CREATE INDEX generation_messages_group ON generation_messages (group_id, created_at, id);
    CREATE TABLE generation_events (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      group_id uuid NOT NULL,
      run_id uuid NOT NULL,
      org_id uuid NOT NULL,
      artifact_type text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX generation_events_group ON generation_events (group_id, seq);
    CREATE INDEX generation_events_run ON generation_events (run_id, seq);
    CREATE INDEX generation_events_age ON generation_events (created_at);
    CREATE TABLE generation_idempotency (
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      key uuid NOT NULL,
      request_hash text NOT NULL,
      response jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (org_id, profile_id, key)
    );
  `,
  );
}
