import type { Database } from '../db/database.ts';
import { noUploadLinks, type ArtifactUploadLinks } from '../artifacts/upload-links.ts';
import type { CallRecordSource, CoreServices, GlowModule } from '../module.ts';

/** How artifacts check and record the uploads they reference (see ArtifactUploadLinks). */
export function createUploadLinks(_database: Database): ArtifactUploadLinks {
  return noUploadLinks;
}

export async function createMediaModule(_services: CoreServices, _callRecords: CallRecordSource): Promise<GlowModule> {
  return { name: 'media', operations: [] };
}
