import type { Selectable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Executor } from '../db/database.ts';
import type { UploadKind, UploadPreviewsTable, UploadsTable } from '../db/schema-media.ts';

export type UploadRow = Selectable<UploadsTable>;
export type PreviewRow = Selectable<UploadPreviewsTable>;

/** A ready upload: bytes stored, every descriptive column set. */
export interface StoredUpload extends UploadRow {
  state: 'ready';
  mime_type: string;
  size: number;
  sha256: string;
}

export function isStored(row: UploadRow): row is StoredUpload {
  return row.state === 'ready' && row.sha256 !== null && row.mime_type !== null && row.size !== null;
}

export interface NewUpload {
  id?: string;
  orgId: string;
  profileId: string;
  kind: UploadKind;
  mimeType: string;
  size: number;
  sha256: string;
  filename: string | null;
}

export async function insertUpload(executor: Executor, upload: NewUpload): Promise<StoredUpload> {
  return (await executor
    .insertInto('uploads')
    .values({
      id: upload.id ?? uuidv7(),
      org_id: upload.orgId,
      profile_id: upload.profileId,
      kind: upload.kind,
      state: 'ready',
      mime_type: upload.mimeType,
      size: upload.size,
      sha256: upload.sha256,
      filename: upload.filename,
    })
    .returningAll()
    .executeTakeFirstOrThrow()) as StoredUpload;
}

export async function insertReservation(executor: Executor, reservation: { orgId: string; profileId: string; kind: UploadKind }): Promise<UploadRow> {
  return executor
    .insertInto('uploads')
    .values({ id: uuidv7(), org_id: reservation.orgId, profile_id: reservation.profileId, kind: reservation.kind, state: 'reserved' })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Fills a reserved slot; undefined when it was filled meanwhile (the caller answers 409). */
export async function fillReservation(
  executor: Executor,
  id: string,
  bytes: { mimeType: string; size: number; sha256: string; filename: string | null },
): Promise<StoredUpload | undefined> {
  return (await executor
    .updateTable('uploads')
    .set({ state: 'ready', mime_type: bytes.mimeType, size: bytes.size, sha256: bytes.sha256, filename: bytes.filename })
    .where('id', '=', id)
    .where('state', '=', 'reserved')
    .returningAll()
    .executeTakeFirst()) as StoredUpload | undefined;
}

export async function insertWrapper(
  executor: Executor,
  wrapper: { uploadId: string; orgId: string; kind: UploadKind; name: string; description: string },
): Promise<string> {
  const id = uuidv7();
  await executor
    .insertInto('upload_wrappers')
    .values({ id, upload_id: wrapper.uploadId, org_id: wrapper.orgId, kind: wrapper.kind, name: wrapper.name, description: wrapper.description })
    .execute();
  return id;
}

/**
 * A promoted wrapper of the upload with exactly this name and description, made if there is none:
 * a repeated promotion (a client's retry) is the same asset. The upload's own first wrapper, made
 * with it, is never the answer: a promotion is another asset. The upload row is locked so two at
 * once make one.
 */
export async function findOrInsertWrapper(
  executor: Executor,
  wrapper: { uploadId: string; orgId: string; kind: UploadKind; name: string; description: string },
): Promise<string> {
  await executor.selectFrom('uploads').select('id').where('id', '=', wrapper.uploadId).forUpdate().execute();
  const original = await firstWrapperId(executor, wrapper.uploadId);
  const existing = await executor
    .selectFrom('upload_wrappers')
    .select('id')
    .where('upload_id', '=', wrapper.uploadId)
    .$if(original !== undefined, (query) => query.where('id', '!=', original!))
    .where('name', '=', wrapper.name)
    .where('description', '=', wrapper.description)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return existing?.id ?? insertWrapper(executor, wrapper);
}

export async function findUploadsByIds(executor: Executor, orgId: string, ids: string[], forUpdate = false): Promise<UploadRow[]> {
  if (ids.length === 0) return [];
  let query = executor.selectFrom('uploads').selectAll().where('org_id', '=', orgId).where('id', 'in', ids);
  if (forUpdate) query = query.forUpdate();
  return query.execute();
}

/** The uploads of the org that ids name, each by its upload id or by a wrapper's id (`<kind>s_id`), keyed by the id given. */
export async function findUploadsByAnyIds(executor: Executor, orgId: string, ids: string[]): Promise<Map<string, UploadRow>> {
  const named = new Map((await findUploadsByIds(executor, orgId, ids)).map((row) => [row.id, row]));
  const wrapperIds = ids.filter((id) => !named.has(id));
  if (wrapperIds.length === 0) return named;
  const wrapped = await executor
    .selectFrom('upload_wrappers')
    .innerJoin('uploads', 'uploads.id', 'upload_wrappers.upload_id')
    .selectAll('uploads')
    .select('upload_wrappers.id as wrapper_id')
    .where('upload_wrappers.org_id', '=', orgId)
    .where('upload_wrappers.id', 'in', wrapperIds)
    .execute();
  for (const { wrapper_id: wrapperId, ...upload } of wrapped) named.set(wrapperId, upload);
  return named;
}

/** The upload an id names: the upload id itself, or the id of a wrapper on it. */
export async function findUploadByUploadOrWrapperId(executor: Executor, orgId: string, id: string): Promise<UploadRow | undefined> {
  const direct = await executor.selectFrom('uploads').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  if (direct) return direct;
  return executor
    .selectFrom('upload_wrappers')
    .innerJoin('uploads', 'uploads.id', 'upload_wrappers.upload_id')
    .selectAll('uploads')
    .where('upload_wrappers.org_id', '=', orgId)
    .where('upload_wrappers.id', '=', id)
    .executeTakeFirst();
}

export async function firstWrapperId(executor: Executor, uploadId: string): Promise<string | undefined> {
  const row = await executor
    .selectFrom('upload_wrappers')
    .select('id')
    .where('upload_id', '=', uploadId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

export interface UploadLinkRow {
  upload_id: string;
  artifact_id: string | null;
  message_id: string | null;
  reader_profile_id: string | null;
}

export async function findLinks(executor: Executor, uploadIds: string[]): Promise<UploadLinkRow[]> {
  if (uploadIds.length === 0) return [];
  return executor
    .selectFrom('upload_links')
    .select(['upload_id', 'artifact_id', 'message_id', 'reader_profile_id'])
    .where('upload_id', 'in', uploadIds)
    .execute();
}

export async function replaceArtifactLinks(executor: Executor, orgId: string, artifactId: string, uploadIds: string[]): Promise<void> {
  await executor.deleteFrom('upload_links').where('artifact_id', '=', artifactId).execute();
  const unique = [...new Set(uploadIds)];
  if (unique.length === 0) return;
  await executor
    .insertInto('upload_links')
    .values(unique.map((uploadId) => ({ upload_id: uploadId, org_id: orgId, artifact_id: artifactId })))
    .execute();
}

/** Adds links without touching the artifact's others; a link already there is not added twice. */
export async function addArtifactLinks(executor: Executor, orgId: string, artifactId: string, uploadIds: string[]): Promise<void> {
  const unique = [...new Set(uploadIds)];
  if (unique.length === 0) return;
  const present = new Set(
    (await executor.selectFrom('upload_links').select('upload_id').where('artifact_id', '=', artifactId).where('upload_id', 'in', unique).execute()).map((row) => row.upload_id),
  );
  const missing = unique.filter((uploadId) => !present.has(uploadId));
  if (missing.length === 0) return;
  await executor.insertInto('upload_links').values(missing.map((uploadId) => ({ upload_id: uploadId, org_id: orgId, artifact_id: artifactId }))).execute();
}

export async function insertMessageLinks(
  executor: Executor,
  link: { orgId: string; messageId: string; readerProfileId: string | null; uploadIds: string[] },
): Promise<void> {
  const unique = [...new Set(link.uploadIds)];
  if (unique.length === 0) return;
  await executor
    .insertInto('upload_links')
    .values(unique.map((uploadId) => ({ upload_id: uploadId, org_id: link.orgId, message_id: link.messageId, reader_profile_id: link.readerProfileId })))
    .execute();
}

export async function findPreview(executor: Executor, sourceSha256: string): Promise<PreviewRow | undefined> {
  return executor.selectFrom('upload_previews').selectAll().where('source_sha256', '=', sourceSha256).executeTakeFirst();
}

export async function insertPreview(executor: Executor, preview: Omit<PreviewRow, 'created_at'>): Promise<void> {
  await executor.insertInto('upload_previews').values(preview).onConflict((conflict) => conflict.column('source_sha256').doNothing()).execute();
}

/** Of these blob hashes, the ones no upload or preview refers to. */
export async function unreferencedBlobs(executor: Executor, sha256s: string[]): Promise<string[]> {
  if (sha256s.length === 0) return [];
  const uploads = await executor.selectFrom('uploads').select('sha256').where('sha256', 'in', sha256s).execute();
  const previews = await executor.selectFrom('upload_previews').select('png_sha256').where('png_sha256', 'in', sha256s).execute();
  const referenced = new Set<string | null>([...uploads.map((row) => row.sha256), ...previews.map((row) => row.png_sha256)]);
  return sha256s.filter((sha256) => !referenced.has(sha256));
}
