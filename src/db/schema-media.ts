// Tables owned by the media concern (src/media). Kept apart so each concern edits only its own file.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
// bigint columns come back as numbers (see database.ts) and go in as numbers.
type ByteCount = ColumnType<number, number, number>;

export type UploadKind = 'audio' | 'image' | 'video' | 'file' | 'text';
/** `reserved`: an attempt audio slot handed out by attempt/audio/new, no bytes yet. */
export type UploadState = 'reserved' | 'ready';

/** One stored byte sequence (or a reserved slot for one): the `upload_id` every route takes. */
export interface UploadsTable {
  id: string;
  org_id: string;
  /** The profile that uploaded it (or reserved it, or the run's profile for generated media). */
  profile_id: string;
  kind: UploadKind;
  state: UploadState;
  /** Bare type, parameters stripped; null while reserved. */
  mime_type: string | null;
  size: ByteCount | null;
  sha256: string | null;
  /** The client's file name, for Content-Disposition. */
  filename: string | null;
  created_at: Timestamp;
}

/** The named, reusable asset on top of an upload: the `<kind>s_id` (audios_id, images_id, ...). */
export interface UploadWrappersTable {
  id: string;
  upload_id: string;
  org_id: string;
  kind: UploadKind;
  name: string;
  description: string;
  created_at: Timestamp;
}

/** Who may read an upload besides its owner and org admins: readers of an artifact, or of a message. */
export interface UploadLinksTable {
  id: Generated<number>;
  upload_id: string;
  org_id: string;
  artifact_id: string | null;
  message_id: string | null;
  reader_profile_id: string | null;
  created_at: Timestamp;
}

/** First-page PNG of a PDF, rendered once per distinct PDF (by its sha256) and kept in the blob store. */
export interface UploadPreviewsTable {
  source_sha256: string;
  png_sha256: string;
  png_size: ByteCount;
  width: number;
  height: number;
  created_at: Timestamp;
}

export interface MediaTables {
  uploads: UploadsTable;
  upload_wrappers: UploadWrappersTable;
  upload_links: UploadLinksTable;
  upload_previews: UploadPreviewsTable;
}
