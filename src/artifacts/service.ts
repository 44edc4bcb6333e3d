import type { Database, Executor } from '../db/database.ts';
import { auditRow, recordAudit } from '../audit/audit-log.ts';
import { AppError, badRequest, conflict, forbidden, notFound, parseWith } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { completeData } from './families/define.ts';
import { familyOf } from './families/index.ts';
import { deleteArtifactRow, findArtifact, findArtifactsByIds, insertArtifact, listArtifacts, updateArtifactRow, type ArtifactRow } from './store.ts';
import type { ArtifactType, FamilyDefinition } from './types.ts';
import { noUploadLinks, type ArtifactUploadLinks, type UploadReference } from './upload-links.ts';
import { uuid } from '../ids.ts';

export interface ArtifactRecord {
  id: string;
  name: string;
  description: string;
  status: 'draft' | 'published';
  data: Record<string, unknown>;
  version: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface SearchInput {
  search?: string;
  status?: 'draft' | 'published';
  page_limit?: number;
  page_offset?: number;
}

export interface CreateInput {
  name?: string;
  description?: string;
  data?: Record<string, unknown>;
  draft_id?: string;
}

export interface DraftInput {
  id?: string;
  name?: string;
  description?: string;
  data?: Record<string, unknown>;
}

export interface UpdateInput {
  id: string;
  name?: string;
  description?: string;
  data?: Record<string, unknown>;
  expected_version?: number;
}

export interface WriteOptions {
  /** Run inside the caller's transaction (generation saves a produced artifact with its run). */
  executor?: Executor;
  /** Use this id for a new record (generation derives it from run and resource, so a re-run saves once). */
  id?: string;
  /**
   * A write the server makes in one of its own flows (starting an attempt, counting a turn):
   * the family's `writeRole` does not apply, the author rule still does.
   */
  serverFlow?: boolean;
}

/**
 * Families whose records a member sees only when they are about the member's own profile.
 * Token records are private: anyone else's is 404 to a member.
 */
const OWNER_PRIVATE: ReadonlySet<ArtifactType> = new Set(['auth']);

export function toRecord(row: ArtifactRow): ArtifactRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    data: row.data,
    version: row.version,
    created_by: row.created_by,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** Rules another concern keeps over some records (identity: an org keeps an admin), checked inside the write's transaction. */
export interface ArtifactWriteGuard {
  beforeUpdate?(executor: Executor, actor: Actor, existing: ArtifactRow, data: Record<string, unknown>): Promise<void>;
  beforeDelete?(executor: Executor, actor: Actor, existing: ArtifactRow): Promise<void>;
}

/** Unique indexes over record data (migration 0001), by the data field they keep unique. */
const UNIQUE_FIELDS: Record<string, string> = { profiles_email_per_org: 'email' };

/** A write refused by a unique index on a data field: 409 naming the field, not the index. */
function asUniqueConflict(type: ArtifactType): (error: unknown) => never {
  return (error) => {
    const field = (error as { code?: string; constraint?: string }).code === '23505' ? UNIQUE_FIELDS[(error as { constraint?: string }).constraint ?? ''] : undefined;
    if (field) throw conflict(`data.${field}: another ${type} of this org already has this ${field}.`, { field: `data.${field}` });
    throw error;
  };
}

export class ArtifactService {
  private readonly changeListeners: ((type: ArtifactType) => void)[] = [];
  private readonly writeGuards: ArtifactWriteGuard[] = [];

  constructor(
    private readonly database: Database,
    private readonly uploadLinks: ArtifactUploadLinks = noUploadLinks,
  ) {}

  addWriteGuard(guard: ArtifactWriteGuard): void {
    this.writeGuards.push(guard);
  }

  /** Calls `listener` after each update or delete this service commits (not those inside a caller's transaction). */
  onCommittedChange(listener: (type: ArtifactType) => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells the listeners of a committed change to a record of `type`; for writers of records outside this service (token revocation). */
  committedChange(type: ArtifactType): void {
    for (const listener of this.changeListeners) listener(type);
  }

  canRead(actor: Actor, type: ArtifactType, row: ArtifactRow): boolean {
    if (row.org_id !== actor.orgId) return false;
    if (actor.role === 'admin') return true;
    if (row.status === 'draft' && row.created_by !== actor.profileId) return false;
    if (OWNER_PRIVATE.has(type) && row.data.profile_id !== actor.profileId) return false;
    return true;
  }

  private assertCanWrite(actor: Actor, family: FamilyDefinition, row?: ArtifactRow, options: WriteOptions = {}): void {
    if (family.writeRole === 'admin' && actor.role !== 'admin' && !options.serverFlow) {
      throw forbidden(`Only an org admin may change ${family.type} records.`);
    }
    if (row && actor.role !== 'admin' && row.created_by !== actor.profileId) {
      throw forbidden(`Only its author or an org admin may change this ${family.type}.`);
    }
  }

  async get(actor: Actor, type: ArtifactType, id: string, executor: Executor = this.database.db): Promise<ArtifactRecord> {
    return toRecord(await this.readRow(actor, type, id, executor));
  }

  /** The row if the actor may read it; 404 otherwise (never leaks existence). */
  async readRow(actor: Actor, type: ArtifactType, id: string, executor: Executor = this.database.db, forUpdate = false): Promise<ArtifactRow> {
    const row = uuid().safeParse(id).success ? await findArtifact(executor, actor.orgId, type, id, forUpdate) : undefined;
    if (!row || !this.canRead(actor, type, row)) throw notFound(type, id);
    return row;
  }

  async search(actor: Actor, type: ArtifactType, input: SearchInput): Promise<{ items: ArtifactRecord[]; total_count: number }> {
    const isAdmin = actor.role === 'admin';
    const { rows, total } = await listArtifacts(this.database.db, {
      orgId: actor.orgId,
      type,
      search: input.search,
      status: input.status,
      draftsVisibleTo: isAdmin ? undefined : actor.profileId,
      limit: input.page_limit ?? 50,
      offset: input.page_offset ?? 0,
      ...(OWNER_PRIVATE.has(type) && !isAdmin ? { ownerProfileId: actor.profileId } : {}),
    });
    return { items: rows.map(toRecord), total_count: total };
  }

  async create(actor: Actor, type: ArtifactType, input: CreateInput, options: WriteOptions = {}): Promise<ArtifactRecord> {
    const family = familyOf(type);
    this.assertCanWrite(actor, family, undefined, options);
    if (input.draft_id) return this.publishDraft(actor, family, input, options);
    if (!input.name) throw badRequest('name: is required when creating a record (or pass draft_id to publish a draft).', { fields: [{ path: 'name', message: 'is required' }] });
    if (input.data === undefined) throw badRequest('data: is required when creating a record (or pass draft_id to publish a draft).', { fields: [{ path: 'data', message: 'is required' }] });
    // A profile's or token's name is also its data.name: given once, the other follows.
    const given = family.nameInData && input.data.name === undefined ? { ...input.data, name: input.name } : input.data;
    const data = parseWith(completeData(family), given, ['data']) as Record<string, unknown>;
    if (family.nameInData && data.name !== input.name) {
      throw badRequest(`data.name: differs from name (${JSON.stringify(input.name)}); a ${type}'s name is one name, give the same in both.`, { fields: [{ path: 'data.name', message: 'differs from name' }] });
    }
    return this.inTransaction(options.executor, async (executor) => {
      await this.checkReferences(executor, actor, family, data);
      // The audit row goes in with the record: one statement.
      const row = await insertArtifact(
        executor,
        { id: options.id, orgId: actor.orgId, type, name: input.name!, description: input.description ?? '', status: 'published', data, createdBy: actor.profileId },
        (id) => auditRow(actor, actor.orgId, { action: `${type}.create`, artifactType: type, artifactId: id }),
      ).catch(asUniqueConflict(type));
      await this.linkUploads(executor, family, row);
      return toRecord(row);
    });
  }

  private async publishDraft(actor: Actor, family: FamilyDefinition, input: CreateInput, options: WriteOptions): Promise<ArtifactRecord> {
    return this.inTransaction(options.executor, async (executor) => {
      const draft = await this.readRow(actor, family.type, input.draft_id!, executor, true);
      if (draft.status !== 'draft') throw conflict(`${family.type} ${draft.id} is already published.`);
      this.assertCanWrite(actor, family, draft);
      const name = input.name ?? draft.name;
      if (!name) throw badRequest('name: A draft needs a name before it can be published.', { fields: [{ path: 'name', message: 'is required' }] });
      const data = parseWith(completeData(family), input.data ?? draft.data, ['data']) as Record<string, unknown>;
      await this.checkReferences(executor, actor, family, data);
      const row = await updateArtifactRow(executor, draft.id, { name, description: input.description ?? draft.description, status: 'published', data });
      await this.linkUploads(executor, family, row);
      await recordAudit(executor, actor, actor.orgId, { action: `${family.type}.publish`, artifactType: family.type, artifactId: row.id });
      return toRecord(row);
    });
  }

  async saveDraft(actor: Actor, type: ArtifactType, input: DraftInput, options: WriteOptions = {}): Promise<ArtifactRecord> {
    const family = familyOf(type);
    this.assertCanWrite(actor, family);
    const data = input.data === undefined ? undefined : (parseWith(family.data.partial(), input.data, ['data']) as Record<string, unknown>);
    return this.inTransaction(options.executor, async (executor) => {
      if (data) await this.checkReferences(executor, actor, family, data);
      if (!input.id) {
        const row = await insertArtifact(executor, {
          id: options.id,
          orgId: actor.orgId,
          type,
          name: input.name ?? '',
          description: input.description ?? '',
          status: 'draft',
          data: data ?? {},
          createdBy: actor.profileId,
        });
        await this.linkUploads(executor, family, row);
        await recordAudit(executor, actor, actor.orgId, { action: `${type}.draft`, artifactType: type, artifactId: row.id });
        return toRecord(row);
      }
      const existing = await this.readRow(actor, type, input.id, executor, true);
      if (existing.status !== 'draft') {
        throw conflict(`${type} ${existing.id} is published; change it with ${type}/update.`);
      }
      this.assertCanWrite(actor, family, existing);
      const row = await updateArtifactRow(executor, existing.id, {
        name: input.name ?? existing.name,
        description: input.description ?? existing.description,
        status: 'draft',
        data: data ?? existing.data,
      });
      await this.linkUploads(executor, family, row);
      await recordAudit(executor, actor, actor.orgId, { action: `${type}.draft`, artifactType: type, artifactId: row.id });
      return toRecord(row);
    });
  }

  async update(actor: Actor, type: ArtifactType, input: UpdateInput, options: WriteOptions = {}): Promise<ArtifactRecord> {
    const family = familyOf(type);
    this.assertCanWrite(actor, family, undefined, options);
    const updated = await this.inTransaction(options.executor, async (executor) => {
      const existing = await this.readRow(actor, type, input.id, executor, true);
      this.assertCanWrite(actor, family, existing, options);
      if (input.expected_version !== undefined && input.expected_version !== existing.version) {
        throw conflict(`${type} ${existing.id} is at version ${existing.version}, not ${input.expected_version}: reload it and try again.`, {
          current_version: existing.version,
        });
      }
      // Rules that came after a record was stored do not stop a rename: they hold for data sent.
      const schema = existing.status === 'draft' ? family.data.partial() : input.data === undefined ? family.data : completeData(family);
      let data = parseWith(schema, input.data ?? existing.data, ['data']) as Record<string, unknown>;
      if (input.name === '' && existing.status === 'published') throw badRequest('name: A published record needs a name.');
      let name = input.name ?? existing.name;
      if (family.nameInData) {
        // One name, written in either place: the other follows.
        if (input.name !== undefined && input.data !== undefined && data.name !== undefined && data.name !== input.name) {
          throw badRequest(`data.name: differs from name (${JSON.stringify(input.name)}); a ${type}'s name is one name, give it once or the same in both.`, { fields: [{ path: 'data.name', message: 'differs from name' }] });
        }
        if (input.name !== undefined) data = { ...data, name: input.name };
        else if (input.data !== undefined && typeof data.name === 'string') name = data.name;
      }
      for (const field of family.keptOnUpdate ?? []) {
        if (input.data !== undefined && JSON.stringify(data[field]) !== JSON.stringify(existing.data[field])) {
          throw badRequest(`data.${field}: is kept as it was when the ${type} was made; it cannot be changed.`, { fields: [{ path: `data.${field}`, message: 'cannot be changed' }] });
        }
      }
      // References are checked when the data is written: a rename keeps a record whose referenced
      // record has since been deleted usable.
      if (input.data !== undefined) await this.checkReferences(executor, actor, family, data, existing.data);
      for (const guard of this.writeGuards) await guard.beforeUpdate?.(executor, actor, existing, data);
      const row = await updateArtifactRow(executor, existing.id, {
        name,
        description: input.description ?? existing.description,
        status: existing.status,
        data,
      }).catch(asUniqueConflict(type));
      await this.linkUploads(executor, family, row);
      await recordAudit(executor, actor, actor.orgId, { action: `${type}.update`, artifactType: type, artifactId: row.id, details: { version: row.version } });
      return toRecord(row);
    });
    if (!options.executor) this.committedChange(type);
    return updated;
  }

  async delete(actor: Actor, type: ArtifactType, id: string): Promise<{ id: string; deleted: true }> {
    const family = familyOf(type);
    this.assertCanWrite(actor, family);
    const deleted = await this.inTransaction(undefined, async (executor) => {
      const existing = await this.readRow(actor, type, id, executor, true);
      this.assertCanWrite(actor, family, existing);
      for (const guard of this.writeGuards) await guard.beforeDelete?.(executor, actor, existing);
      await deleteArtifactRow(executor, existing.id);
      await recordAudit(executor, actor, actor.orgId, { action: `${type}.delete`, artifactType: type, artifactId: existing.id });
      return { id: existing.id, deleted: true as const };
    });
    this.committedChange(type);
    return deleted;
  }

  private async inTransaction<T>(executor: Executor | undefined, work: (executor: Executor) => Promise<T>): Promise<T> {
    if (executor) return work(executor);
    return this.database.db.transaction().execute(work);
  }

  /**
   * Every artifact and upload the data names must exist and be readable by the writer. On an
   * update, a reference the record already held in that field is not checked again: a record that
   * points at one deleted since (an attempt's rubric) can still be changed in its other fields.
   */
  private async checkReferences(executor: Executor, actor: Actor, family: FamilyDefinition, data: Record<string, unknown>, stored?: Record<string, unknown>): Promise<void> {
    const wanted = new Map<string, { field: string; type: ArtifactType }>();
    for (const [field, type] of Object.entries(family.artifactRefs ?? {})) {
      const held = new Set(idsIn(stored?.[field]));
      for (const id of idsIn(data[field])) if (!held.has(id)) wanted.set(id, { field, type });
    }
    if (wanted.size > 0) {
      const rows = await findArtifactsByIds(executor, actor.orgId, [...wanted.keys()]);
      const found = new Map(rows.map((row) => [row.id, row]));
      for (const [id, { field, type }] of wanted) {
        const row = found.get(id);
        if (!row || row.type !== type || !this.canRead(actor, type, row)) {
          throw new AppError(404, 'not_found', `data.${field}: ${type} ${id} was not found.`, { field: `data.${field}` });
        }
      }
    }
    const uploads: UploadReference[] = Object.entries(family.uploadRefs ?? {})
      .map(([field, kind]) => ({ field: `data.${field}`, kind, ids: idsIn(data[field]) }))
      .filter((reference) => reference.ids.length > 0);
    if (uploads.length > 0) await this.uploadLinks.assertUsable(executor, actor, uploads);
  }

  private async linkUploads(executor: Executor, family: FamilyDefinition, row: ArtifactRow): Promise<void> {
    if (!family.uploadRefs) return;
    const ids = Object.keys(family.uploadRefs).flatMap((field) => idsIn(row.data[field]));
    await this.uploadLinks.link(executor, row.org_id, row.id, ids);
  }
}

function idsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}
