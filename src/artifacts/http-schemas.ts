import { z } from 'zod';
import type { FamilyDefinition } from './types.ts';
import { uuid } from '../ids.ts';

export const nameSchema = z.string().trim().min(1).max(200).describe('Display name of the record.');
export const descriptionSchema = z.string().max(5000).describe('Free text describing the record.');
export const idSchema = uuid().describe('Record id.');

export const pageSchema = {
  page_limit: z.number().int().min(1).max(100).optional().describe('Page size, 1..100 (default 50).'),
  page_offset: z.number().int().min(0).optional().describe('Records to skip (default 0).'),
};

export function recordSchema(family: FamilyDefinition) {
  return z.strictObject({
    id: idSchema,
    name: z.string(),
    description: z.string(),
    status: z.enum(['draft', 'published']),
    data: family.data,
    version: z.number().int(),
    created_by: uuid(),
    created_at: z.string(),
    updated_at: z.string(),
  });
}

export function crudSchemas(family: FamilyDefinition) {
  const record = recordSchema(family);
  return {
    record,
    create: z.strictObject({
      name: nameSchema.optional(),
      description: descriptionSchema.optional(),
      data: family.data.optional().describe('The family\'s fields (below); required unless draft_id is given.'),
      draft_id: uuid().optional().describe('Publish this draft (after full validation) instead of creating a new record.'),
    }),
    draft: z.strictObject({
      id: uuid().optional().describe('The draft to change; omit to start a new draft.'),
      name: z.string().max(200).optional().describe('Display name of the record; may stay empty until the draft is published.'),
      description: descriptionSchema.optional(),
      data: family.data.partial().optional().describe('Incomplete data is fine in a draft; it is validated in full when published.'),
    }),
    update: z.strictObject({
      id: idSchema,
      name: nameSchema.optional(),
      description: descriptionSchema.optional(),
      data: family.data.partial().optional().describe('Replaces the stored data; a published record must pass the full schema.'),
      expected_version: z.number().int().min(1).optional().describe('Reject the write with 409 unless the record is at this version.'),
    }).refine((body) => body.name !== undefined || body.description !== undefined || body.data !== undefined, {
      // An update of nothing would still make a new version, and break every other writer's expected_version.
      message: 'is required: give name, description or data to change (an update with none changes nothing)',
      path: ['data'],
    }),
    get: z.strictObject({ id: idSchema }),
    delete: z.strictObject({ id: idSchema }),
    deleted: z.strictObject({ id: idSchema, deleted: z.literal(true) }),
    search: z.strictObject({
      search: z.string().max(200).optional().describe('Text to find in name, description or data.'),
      status: z.enum(['draft', 'published']).optional().describe('Only drafts or only published records (default: both).'),
      ...pageSchema,
    }),
    page: z.strictObject({ items: z.array(record), total_count: z.number().int() }),
  };
}
