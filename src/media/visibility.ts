import type { Database, Executor } from '../db/database.ts';
import { findArtifactsByIds } from '../artifacts/store.ts';
import { ArtifactService } from '../artifacts/service.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import type { ArtifactUploadLinks, UploadReference } from '../artifacts/upload-links.ts';
import { AppError } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { addArtifactLinks, findLinks, findUploadsByAnyIds, insertMessageLinks, replaceArtifactLinks, type UploadRow } from './upload-store.ts';
import { withArticle } from '../http/wording.ts';
import { uuid } from '../ids.ts';

/** The artifact read rules (drafts, private families) without depending on a whole app. */
export type ArtifactReadRules = Pick<ArtifactService, 'canRead'>;

/**
 * Which of these uploads (all of the actor's org) the actor may read: its own, any when admin,
 * those linked to a message it reads, those linked to an artifact it may read.
 */
export async function visibleUploadIds(executor: Executor, readRules: ArtifactReadRules, actor: Actor, uploads: UploadRow[]): Promise<Set<string>> {
  const visible = new Set<string>();
  const undecided: string[] = [];
  for (const upload of uploads) {
    if (upload.org_id !== actor.orgId) continue;
    if (actor.role === 'admin' || upload.profile_id === actor.profileId) visible.add(upload.id);
    else undecided.push(upload.id);
  }
  if (undecided.length === 0) return visible;
  const links = await findLinks(executor, undecided);
  const artifactIds = new Set<string>();
  for (const link of links) {
    if (link.message_id && link.reader_profile_id === actor.profileId) visible.add(link.upload_id);
    if (link.artifact_id) artifactIds.add(link.artifact_id);
  }
  if (artifactIds.size === 0) return visible;
  const readable = new Set(
    (await findArtifactsByIds(executor, actor.orgId, [...artifactIds]))
      .filter((row) => readRules.canRead(actor, row.type as ArtifactType, row))
      .map((row) => row.id),
  );
  for (const link of links) {
    if (link.artifact_id && readable.has(link.artifact_id)) visible.add(link.upload_id);
  }
  return visible;
}

const isUuid = (value: string) => uuid().safeParse(value).success;

/**
 * Throws the contract's errors for upload ids a writer references: 404 (naming the field) for an
 * id that is unknown, of another org, not visible to the writer or only reserved; 400 for one of
 * the wrong kind. An id may be the upload's or a wrapper's (`<kind>s_id`): answers the upload id
 * each given id names.
 */
export async function assertUploadsUsable(executor: Executor, readRules: ArtifactReadRules, actor: Actor, references: UploadReference[]): Promise<Map<string, string>> {
  const ids = [...new Set(references.flatMap((reference) => reference.ids).filter(isUuid))];
  const byId = await findUploadsByAnyIds(executor, actor.orgId, ids);
  const visible = await visibleUploadIds(executor, readRules, actor, [...byId.values()]);
  for (const reference of references) {
    for (const id of reference.ids) {
      const row = byId.get(id);
      if (!row || row.state !== 'ready' || !visible.has(row.id)) {
        throw new AppError(404, 'not_found', `${reference.field}: upload ${id} was not found.`, { field: reference.field });
      }
      if (row.kind !== reference.kind) {
        throw new AppError(400, 'invalid_request', `${reference.field}: upload ${id} is ${withArticle(row.kind)} upload; this field takes ${reference.kind} uploads.`, {
          fields: [{ path: reference.field, message: `Expected ${withArticle(reference.kind)} upload` }],
        });
      }
    }
  }
  return new Map([...byId].map(([id, row]) => [id, row.id]));
}

/** How artifacts check and record the uploads their `data` references. */
export function createArtifactUploadLinks(database: Database): ArtifactUploadLinks {
  // Only the read rules are used; they are pure functions of the actor and the row.
  const readRules: ArtifactReadRules = new ArtifactService(database);
  return {
    assertUsable: async (executor, actor, references) => {
      await assertUploadsUsable(executor, readRules, actor, references);
    },
    // The record keeps the ids as written (upload or wrapper ids); its links name the uploads.
    link: async (executor, orgId, artifactId, ids) =>
      replaceArtifactLinks(executor, orgId, artifactId, [...(await findUploadsByAnyIds(executor, orgId, ids)).values()].map((row) => row.id)),
  };
}

/**
 * Makes uploads readable to whoever may read the artifact, for artifacts whose `data` has no field
 * for them (a persona's generated voice sample). Fields listed in a family's uploadRefs are linked
 * by the artifact service itself when the record is written.
 */
export async function linkUploadsToArtifact(executor: Executor, link: { orgId: string; artifactId: string; uploadIds: string[] }): Promise<void> {
  await addArtifactLinks(executor, link.orgId, link.artifactId, link.uploadIds);
}

/**
 * Attaches uploads to a message so its reader can download them (chat turns, generated replies).
 * Check them first with assertUploadsUsable when a user supplied the ids.
 */
export async function linkUploadsToMessage(
  executor: Executor,
  link: { orgId: string; messageId: string; readerProfileId: string | null; uploadIds: string[] },
): Promise<void> {
  await insertMessageLinks(executor, link);
}
