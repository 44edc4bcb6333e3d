import type { z } from 'zod';
import type { FamilyDefinition } from '../types.ts';

/** Identity at run time; at compile time it ties `example` and `offline` to the family's own schema. */
export function defineFamily<Schema extends z.ZodObject>(definition: FamilyDefinition<Schema>): FamilyDefinition<Schema> {
  return definition;
}
