import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE orgs (
      id uuid PRIMARY KEY,
      name text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE artifacts (
      id uuid PRIMARY KEY,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      type text NOT NULL,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      status text NOT NULL CHECK (status IN ('draft', 'published')),
      data jsonb NOT NULL,
      version integer NOT NULL DEFAULT 1,
      created_by uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX artifacts_listing ON artifacts (org_id, type, created_at DESC, id DESC);
    CREATE UNIQUE INDEX profiles_email_per_org ON artifacts (org_id, lower(data->>'email')) WHERE type = 'profile';
    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY REFERENCES artifacts(id) ON DELETE CASCADE,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz
    );
    CREATE INDEX api_tokens_profile ON api_tokens (profile_id);
    CREATE TABLE instance_settings (
      key text PRIMARY KEY,
      value jsonb NOT NULL
    );
    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      org_id uuid NOT NULL,
      profile_id uuid,
      session_id uuid,
      action text NOT NULL,
      artifact_type text,
      artifact_id uuid,
      details jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_org_time ON audit_log (org_id, created_at DESC);
    CREATE INDEX audit_log_artifact ON audit_log (artifact_id);
  `,
  );
}
