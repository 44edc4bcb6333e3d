import type { z } from 'zod';
import type { FamilyDefinition } from '../types.ts';

/** Identity at run time; at compile time it ties `example` and `offline` to the family's own schema. */
export function defineFamily<Schema extends z.ZodObject>(definition: FamilyDefinition<Schema>): FamilyDefinition<Schema> {
  return definition;
}

const completeSchemas = new WeakMap<FamilyDefinition, z.ZodObject>();

/**
 * The schema complete data must pass: the family's `data` with its cross-field `rules`. Still an
 * object schema with the same shape (its JSON schema is `data`'s); a draft's partial data is
 * checked against `data.partial()` instead, without the rules.
 */
export function completeData(family: FamilyDefinition): z.ZodObject {
  const rules = family.rules;
  if (!rules) return family.data;
  let schema = completeSchemas.get(family);
  if (!schema) {
    schema = family.data.check((payload) => {
      // Rules read data that passed its fields' own checks: an empty list is "too short", not also a rule.
      if (payload.issues.length > 0) return;
      for (const breach of rules(payload.value)) payload.issues.push({ code: 'custom', path: breach.path, message: breach.message, input: payload.value });
    });
    completeSchemas.set(family, schema);
  }
  return schema;
}
