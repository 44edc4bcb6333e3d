import type { Executor } from '../db/database.ts';
import type { ArtifactType, FamilyDefinition } from '../artifacts/types.ts';

/** A required reference the org cannot satisfy: the run fails naming it. */
export class MissingDependencyError extends Error {
  constructor(readonly field: string, readonly type: ArtifactType) {
    super(`data.${field} needs a published ${type} in this org; create or generate one first.`);
    this.name = 'MissingDependencyError';
  }
}

function isOptionalField(family: FamilyDefinition, field: string): boolean {
  const schema = family.data.shape[field] as { safeParse(value: unknown): { success: boolean } } | undefined;
  return schema ? schema.safeParse(undefined).success : true;
}

/**
 * A generated artifact's references name records the model (or the offline builder) cannot
 * know: keep the ids that exist in the org with the right type, point a required reference that
 * does not at the org's newest published record of that type (a profile: the requester's own, so
 * a generated token is never someone else's), and drop optional ones unless the family's rules
 * require them for this data.
 */
export async function resolveReferences(
  executor: Executor,
  owner: { orgId: string; profileId: string },
  family: FamilyDefinition,
  generated: Record<string, unknown>,
  instructionText: string,
): Promise<Record<string, unknown>> {
  const resolved = await resolveOnce(executor, owner, family, generated, instructionText);
  if (!family.settleGenerated) return resolved;
  // What follows from the named records may name records again (a simulation's persona): those
  // pass the same checks, so a reference the simulation still holds to a deleted record is dropped.
  const followed = family.settleGenerated(resolved as never, await referencedData(executor, owner.orgId, family, resolved));
  return resolveOnce(executor, owner, family, followed as Record<string, unknown>, instructionText);
}

/** The data of each record a single-id reference of `data` names, by field. */
async function referencedData(executor: Executor, orgId: string, family: FamilyDefinition, data: Record<string, unknown>): Promise<Partial<Record<string, Record<string, unknown>>>> {
  const named = Object.keys(family.artifactRefs ?? {}).flatMap((field) => (typeof data[field] === 'string' ? [[field, data[field] as string] as const] : []));
  if (named.length === 0) return {};
  const rows = await executor.selectFrom('artifacts').select(['id', 'data']).where('org_id', '=', orgId).where('id', 'in', named.map(([, id]) => id)).execute();
  const dataOf = new Map(rows.map((row) => [row.id, row.data as Record<string, unknown>]));
  return Object.fromEntries(named.flatMap(([field, id]) => (dataOf.has(id) ? [[field, dataOf.get(id)!]] : [])));
}

async function resolveOnce(
  executor: Executor,
  owner: { orgId: string; profileId: string },
  family: FamilyDefinition,
  generated: Record<string, unknown>,
  instructionText: string,
): Promise<Record<string, unknown>> {
  const { orgId } = owner;
  const data = keepGivenUploads(family, generated, instructionText);
  const refs = Object.entries(family.artifactRefs ?? {});
  if (refs.length === 0) return data;
  const mentioned = refs.flatMap(([field]) => {
    const value = data[field];
    return typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  });
  const existing = mentioned.length
    ? await executor.selectFrom('artifacts').select(['id', 'type']).where('org_id', '=', orgId).where('status', '=', 'published').where('id', 'in', mentioned).execute()
    : [];
  const existingType = new Map(existing.map((row) => [row.id, row.type]));
  const exists = (id: string, type: ArtifactType) => existingType.get(id) === type;

  const newestOf = async (type: ArtifactType): Promise<string | undefined> => {
    if (type === 'profile') return owner.profileId;
    const row = await executor
      .selectFrom('artifacts')
      .select('id')
      .where('org_id', '=', orgId)
      .where('type', '=', type)
      .where('status', '=', 'published')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  };

  const resolved: Record<string, unknown> = { ...data };
  const pointAtNewest = async (field: string, type: ArtifactType) => {
    const replacement = await newestOf(type);
    if (!replacement) throw new MissingDependencyError(field, type);
    resolved[field] = replacement;
  };
  for (const [field, type] of refs) {
    const value = resolved[field];
    if (value === undefined) continue;
    const optional = isOptionalField(family, field);
    if (typeof value === 'string') {
      if (exists(value, type)) continue;
      if (optional) {
        delete resolved[field];
        continue;
      }
      await pointAtNewest(field, type);
    } else if (Array.isArray(value)) {
      const kept = value.filter((id) => typeof id === 'string' && exists(id, type));
      if (kept.length === 0 && value.length > 0 && !optional) {
        const replacement = await newestOf(type);
        resolved[field] = replacement ? [replacement] : [];
      } else if (kept.length === 0 && optional) {
        delete resolved[field];
      } else {
        resolved[field] = kept;
      }
    }
  }
  // An optional reference the family's rules require here (a department setting's department_id)
  // was dropped above or never given: it is pointed at the newest record, like a required one.
  for (const breach of family.rules?.(resolved as never) ?? []) {
    const [field, ...rest] = breach.path;
    const type = typeof field === 'string' && rest.length === 0 ? family.artifactRefs?.[field] : undefined;
    if (type && resolved[field as string] === undefined) await pointAtNewest(field as string, type);
  }
  return resolved;
}

/**
 * Upload ids cannot be invented: keep the ones the user wrote in the instructions (the service
 * still checks the caller may use them) and drop the rest. Every upload field is optional.
 */
function keepGivenUploads(family: FamilyDefinition, data: Record<string, unknown>, instructionText: string): Record<string, unknown> {
  const fields = Object.keys(family.uploadRefs ?? {});
  if (fields.length === 0) return data;
  const given = (id: unknown) => typeof id === 'string' && instructionText.toLowerCase().includes(id.toLowerCase());
  const kept: Record<string, unknown> = { ...data };
  for (const field of fields) {
    const value = kept[field];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      const ids = value.filter(given);
      if (ids.length > 0) kept[field] = ids;
      else delete kept[field];
    } else if (!given(value)) {
      delete kept[field];
    }
  }
  return kept;
}
