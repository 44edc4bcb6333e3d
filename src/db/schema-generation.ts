// Tables owned by the generation and streaming concerns (src/generation, src/streaming).
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<any, string, string>;

export type RunStatus = 'queued' | 'running' | 'completed' | 'error' | 'cancelled';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'error', 'cancelled'];

/** A conversation window: every run one profile performs for one family in one session, until it goes quiet. */
export interface GenerationGroupsTable {
  id: string;
  org_id: string;
  artifact_type: string;
  profile_id: string;
  session_id: string;
  name: string;
  created_at: Timestamp;
  last_activity_at: Timestamp;
  /** An attempt's conversation (attempt/start): never a generation window. */
  transcript: Generated<boolean>;
}

/** One trigger of `<art>/generate`; `lease_*` say which worker process owns it while it runs. */
export interface GenerationRunsTable {
  id: string;
  group_id: string;
  org_id: string;
  artifact_type: string;
  profile_id: string;
  session_id: string;
  status: RunStatus;
  request: Json;
  request_hash: string;
  idempotency_key: string | null;
  model_id: string | null;
  agent_id: string | null;
  input_tokens: ColumnType<number, number | undefined, number>;
  output_tokens: ColumnType<number, number | undefined, number>;
  /** numeric: read back as a string. */
  cost: ColumnType<string, string | number | undefined, string | number>;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  attempts: ColumnType<number, number | undefined, number>;
  cancel_requested: ColumnType<boolean, boolean | undefined, boolean>;
  terminal_event_seq: number | null;
  created_at: Timestamp;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
}

export interface GenerationMessagesTable {
  id: string;
  run_id: string;
  group_id: string;
  role: 'system' | 'user' | 'assistant';
  text: string;
  text_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  audio_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  image_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  video_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  file_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
}

/** The event log: every watch frame is a row here first; `seq` is the SSE id. */
export interface GenerationEventsTable {
  seq: Generated<number>;
  group_id: string;
  run_id: string;
  org_id: string;
  artifact_type: string;
  payload: Json;
  created_at: Timestamp;
}

export interface GenerationIdempotencyTable {
  org_id: string;
  profile_id: string;
  key: string;
  request_hash: string;
  response: Json;
  created_at: Timestamp;
}

export interface GenerationTables {
  generation_groups: GenerationGroupsTable;
  generation_runs: GenerationRunsTable;
  generation_messages: GenerationMessagesTable;
  generation_events: GenerationEventsTable;
  generation_idempotency: GenerationIdempotencyTable;
}
