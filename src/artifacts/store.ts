import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Insertable } from 'kysely';
import type { Executor } from '../db/database.ts';
import type { AuditLogTable } from '../db/schema.ts';
import type { ArtifactType } from './types.ts';

export interface ArtifactRow {
  id: string;
  org_id: string;
  type: string;
  name: string;
  description: string;
  status: 'draft' | 'published';
  data: Record<string, unknown>;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface NewArtifact {
  id?: string;
  orgId: string;
  type: ArtifactType;
  name: string;
  description: string;
  status: 'draft' | 'published';
  data: Record<string, unknown>;
  createdBy: string;
}

export interface ArtifactListing {
  orgId: string;
  type: ArtifactType;
  search?: string;
  status?: 'draft' | 'published';
  /** Drafts are private to their author: a non-admin sees published records and their own drafts. */
  draftsVisibleTo?: string;
  /** Restricts to records about this profile (`data.profile_id`): the token records a member may list. */
  ownerProfileId?: string;
  limit: number;
  offset: number;
}

/** Inserts the record; with `audit`, inserts that audit_log row in the same statement (the record's id is minted first). */
export async function insertArtifact(executor: Executor, artifact: NewArtifact, audit?: (id: string) => Insertable<AuditLogTable>): Promise<ArtifactRow> {
  const id = artifact.id ?? uuidv7();
  const values = {
    id,
    org_id: artifact.orgId,
    type: artifact.type,
    name: artifact.name,
    description: artifact.description,
    status: artifact.status,
    data: JSON.stringify(artifact.data),
    created_by: artifact.createdBy,
  };
  if (audit) {
    return (await executor
      .with('audited', (db) => db.insertInto('audit_log').values(audit(id)).returning('id'))
      .insertInto('artifacts')
      .values(values)
      .returningAll()
      .executeTakeFirstOrThrow()) as ArtifactRow;
  }
  return (await executor.insertInto('artifacts').values(values).returningAll().executeTakeFirstOrThrow()) as ArtifactRow;
}

export async function findArtifact(executor: Executor, orgId: string, type: ArtifactType, id: string, forUpdate = false): Promise<ArtifactRow | undefined> {
  let query = executor.selectFrom('artifacts').selectAll().where('org_id', '=', orgId).where('type', '=', type).where('id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return (await query.executeTakeFirst()) as ArtifactRow | undefined;
}

export async function findArtifactsByIds(executor: Executor, orgId: string, ids: string[]): Promise<ArtifactRow[]> {
  if (ids.length === 0) return [];
  return (await executor.selectFrom('artifacts').selectAll().where('org_id', '=', orgId).where('id', 'in', ids).execute()) as ArtifactRow[];
}

export async function updateArtifactRow(
  executor: Executor,
  id: string,
  changes: { name: string; description: string; status: 'draft' | 'published'; data: Record<string, unknown> },
): Promise<ArtifactRow> {
  return (await executor
    .updateTable('artifacts')
    .set({
      name: changes.name,
      description: changes.description,
      status: changes.status,
      data: JSON.stringify(changes.data),
      version: sql`version + 1`,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()) as ArtifactRow;
}

export async function deleteArtifactRow(executor: Executor, id: string): Promise<void> {
  await executor.deleteFrom('artifacts').where('id', '=', id).execute();
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

export async function listArtifacts(executor: Executor, listing: ArtifactListing): Promise<{ rows: ArtifactRow[]; total: number }> {
  let query = executor.selectFrom('artifacts').where('org_id', '=', listing.orgId).where('type', '=', listing.type);
  if (listing.status) query = query.where('status', '=', listing.status);
  if (listing.ownerProfileId) query = query.where(sql`data->>'profile_id'`, '=', listing.ownerProfileId);
  if (listing.draftsVisibleTo) {
    const viewer = listing.draftsVisibleTo;
    query = query.where((eb) => eb.or([eb('status', '=', 'published'), eb('created_by', '=', viewer)]));
  }
  if (listing.search?.trim()) {
    const pattern = `%${escapeLike(listing.search.trim())}%`;
    query = query.where((eb) =>
      eb.or([
        eb('name', 'ilike', pattern),
        eb('description', 'ilike', pattern),
        // The data's text values, at any depth: not its keys, quotes and brackets (data::text would match "kind" or '"' everywhere).
        eb.exists(sql`(SELECT 1 FROM jsonb_path_query(data, 'strict $.** ? (@.type() == "string")') AS v (value) WHERE v.value #>> '{}' ILIKE ${pattern})`),
      ]),
    );
  }
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(listing.limit).offset(listing.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows as ArtifactRow[], total: Number(count.total) };
}
