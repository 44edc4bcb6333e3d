import type { ColumnType, Generated } from 'kysely';
import type { GenerationTables } from './schema-generation.ts';
import type { MediaTables } from './schema-media.ts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<any, string, string>;
// `version + 1` in an update is a raw SQL expression.
type RawVersion = import('kysely').RawBuilder<number>;

export interface OrgsTable {
  id: string;
  name: string;
  created_at: Timestamp;
}

/** Every record of every family (profiles and token records included) in one table. */
export interface ArtifactsTable {
  id: string;
  org_id: string;
  type: string;
  name: string;
  description: string;
  status: 'draft' | 'published';
  data: Json;
  version: ColumnType<number, number | undefined, number | RawVersion>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiTokensTable {
  /** The id of the `auth` artifact that describes this token. */
  id: string;
  org_id: string;
  profile_id: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface InstanceSettingsTable {
  key: string;
  value: Json;
}

export interface AuditLogTable {
  id: Generated<number>;
  org_id: string;
  profile_id: string | null;
  session_id: string | null;
  action: string;
  artifact_type: string | null;
  artifact_id: string | null;
  details: Json | null;
  created_at: Timestamp;
}

export interface DB extends MediaTables, GenerationTables {
  orgs: OrgsTable;
  artifacts: ArtifactsTable;
  api_tokens: ApiTokensTable;
  instance_settings: InstanceSettingsTable;
  audit_log: AuditLogTable;
}
