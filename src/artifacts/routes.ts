import { defineOperation, type Operation } from '../http/operations.ts';
import { FAMILIES } from './families/index.ts';
import { crudSchemas } from './http-schemas.ts';
import type { ArtifactService } from './service.ts';
import type { CrudArtifactType } from './types.ts';
import { withArticle } from '../http/wording.ts';

export type CrudOperationName = 'create' | 'draft' | 'update' | 'get' | 'search' | 'delete';

/**
 * The hand-written surface of every family but `system`. `replaced` names the operations a
 * family's own concern provides instead (identity creates profiles and mints tokens). A `system`
 * record is only ever generated: admins read, find and delete them, so what a generation saved
 * can be opened.
 */
export function artifactOperations(
  service: ArtifactService,
  replaced: Partial<Record<CrudArtifactType, CrudOperationName[]>> = {},
): Operation[] {
  const operations: Operation[] = [];
  for (const family of Object.values(FAMILIES)) {
    const type = family.type;
    const generatedOnly = type === 'system';
    const schemas = crudSchemas(family);
    const skip = new Set<CrudOperationName>(generatedOnly ? ['create', 'draft', 'update'] : (replaced[type as CrudArtifactType] ?? []));
    const common = { method: 'POST' as const, tag: type, access: generatedOnly ? ('admin' as const) : ('member' as const) };
    // A caller whose role cannot write the family is refused (403) before its body is read.
    const write = { ...common, access: family.writeRole === 'admin' ? ('admin' as const) : ('member' as const) };
    const candidates: Record<CrudOperationName, Operation> = {
      create: defineOperation({
        ...write,
        path: `/${type}/create`,
        operationId: `${type}_create`,
        summary: `Create a published ${type}, or publish a draft (draft_id)`,
        body: schemas.create,
        response: schemas.record,
        errors: [400, 403, 404, 409],
        handler: ({ actor, body }) => service.create(actor, type, body),
      }),
      draft: defineOperation({
        ...write,
        path: `/${type}/draft`,
        operationId: `${type}_draft`,
        summary: `Start or change ${withArticle(type)} draft (visible only to its author and admins until published)`,
        body: schemas.draft,
        response: schemas.record,
        errors: [400, 403, 404, 409],
        handler: ({ actor, body }) => service.saveDraft(actor, type, body),
      }),
      update: defineOperation({
        ...write,
        path: `/${type}/update`,
        operationId: `${type}_update`,
        summary: `Change ${withArticle(type)}; the version goes up by one`,
        body: schemas.update,
        response: schemas.record,
        errors: [400, 403, 404, 409],
        handler: ({ actor, body }) => service.update(actor, type, body),
      }),
      get: defineOperation({
        ...common,
        path: `/${type}/get`,
        operationId: `${type}_get`,
        summary: `Read one ${type}`,
        body: schemas.get,
        response: schemas.record,
        errors: [400, 404],
        handler: ({ actor, body }) => service.get(actor, type, body.id),
      }),
      search: defineOperation({
        ...common,
        path: `/${type}/search`,
        operationId: `${type}_search`,
        summary: `Find ${family.plural}, newest first, with the exact total_count`,
        body: schemas.search,
        response: schemas.page,
        errors: [400],
        handler: ({ actor, body }) => service.search(actor, type, body),
      }),
      delete: defineOperation({
        ...write,
        path: `/${type}/delete`,
        operationId: `${type}_delete`,
        summary: `Delete ${withArticle(type)}`,
        body: schemas.delete,
        response: schemas.deleted,
        errors: [400, 403, 404],
        handler: ({ actor, body }) => service.delete(actor, type, body.id),
      }),
    };
    for (const [name, operation] of Object.entries(candidates)) {
      if (!skip.has(name as CrudOperationName)) operations.push(operation);
    }
  }
  return operations;
}
