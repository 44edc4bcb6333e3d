import { ARTIFACT_TYPES, type ArtifactType } from '../artifacts/types.ts';

/**
 * The CLI's nouns, without loading the family schemas: zod and the 20 schemas are a third of
 * the CLI's start-up, and dispatch only needs the names. A family's plural is its type + "s";
 * the cli suite checks this table against every family's `plural`.
 */
export const NOUNS: ReadonlyMap<string, ArtifactType> = new Map(
  ARTIFACT_TYPES.map((type) => [type === 'system' ? 'system' : `${type}s`, type]),
);

/** `personas` → persona; the singular (`persona`) and `systems` are forgiven. */
export function typeNamed(noun: string): ArtifactType | undefined {
  if (NOUNS.has(noun)) return NOUNS.get(noun);
  if ((ARTIFACT_TYPES as readonly string[]).includes(noun)) return noun as ArtifactType;
  return noun === 'systems' ? 'system' : undefined;
}
