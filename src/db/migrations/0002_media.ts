import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

export async function up(db: Kysely<any>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE uploads (
      id uuid PRIMARY KEY,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      kind text NOT NULL CHECK (kind IN ('audio', 'image', 'video', 'file', 'text')),
      state text NOT NULL CHECK (state IN ('reserved', 'ready')),
      mime_type text,
      size bigint,
      sha256 text,
      filename text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (state = 'reserved' OR (mime_type IS NOT NULL AND size IS NOT NULL AND sha256 IS NOT NULL))
    );
    CREATE INDEX uploads_org ON uploads (org_id, created_at DESC);
    CREATE INDEX uploads_sha256 ON uploads (sha256);
    CREATE TABLE upload_wrappers (
      id uuid PRIMARY KEY,
      upload_id uuid NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      kind text NOT NULL,
      name text NOT NULL DEFAULT '',
      description text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX upload_wrappers_upload ON upload_wrappers (upload_id);
    CREATE TABLE upload_links (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      upload_id uuid NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
      org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
      artifact_id uuid REFERENCES artifacts(id) ON DELETE CASCADE,
      message_id uuid,
      reader_profile_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (artifact_id IS NOT NULL OR message_id IS NOT NULL)
    );
    CREATE INDEX upload_links_upload ON upload_links (upload_id);
    CREATE INDEX upload_links_artifact ON upload_links (artifact_id);
    CREATE INDEX upload_links_message ON upload_links (message_id);
    CREATE TABLE upload_previews (
      source_sha256 text PRIMARY KEY,
      png_sha256 text NOT NULL,
      png_size bigint NOT NULL,
      width integer NOT NULL,
      height integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX upload_previews_png ON upload_previews (png_sha256);
  `,
  );
}
