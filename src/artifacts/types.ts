import type { z } from 'zod';

export const ARTIFACT_TYPES = [
  'agent', 'attempt', 'auth', 'cohort', 'department', 'document', 'eval', 'field', 'model',
  'parameter', 'persona', 'profile', 'provider', 'rubric', 'scenario', 'setting', 'simulation',
  'system', 'test', 'tool',
] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

/** Families with the hand-written CRUD surface: every family but `system`. */
export type CrudArtifactType = Exclude<ArtifactType, 'system'>;

export const MEDIA_KINDS = ['audio', 'image', 'video', 'file', 'text'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** What the offline generator knows when it builds an artifact without a model. */
export interface OfflineInput {
  /** The user's instructions, as sent. */
  instructions: string[];
  /** Display title, when the request carried one (scenarios). */
  title?: string;
  /** Index of the resource within the run (0-based), so `count > 1` yields distinct artifacts. */
  index: number;
  /** Deterministic pseudo-random source seeded from the instructions and index: same input, same output. */
  random: () => number;
}

export interface OfflineArtifact<Data> {
  name: string;
  description: string;
  data: Data;
}

/** A broken rule: where in `data`, and what the field must be, worded like a schema's own message. */
export interface DataRuleBreach {
  path: (string | number)[];
  message: string;
}

export interface FamilyDefinition<Schema extends z.ZodObject = z.ZodObject> {
  type: ArtifactType;
  /** CLI noun: `glow personas ...`. */
  plural: string;
  /** One sentence: what this artifact is for an educator. Shown in CLI help and OpenAPI. */
  summary: string;
  /** The strict schema of the record's `data`. The one source for validation, OpenAPI, CLI help and model output. */
  data: Schema;
  /** Who may create/update/delete records of this family. Reads are open to every org member. */
  writeRole: 'member' | 'admin';
  /** Top-level `data` fields holding ids (string or string[]) of other artifacts that must exist in the caller's org. */
  artifactRefs?: Record<string, ArtifactType>;
  /** Top-level `data` fields an update may not change (a token acts for the profile it was minted for). */
  keptOnUpdate?: readonly string[];
  /** `data.name` is the record's name again (a profile's, a token's label): an update keeps the two the same. */
  nameInData?: boolean;
  /** Top-level `data` fields holding upload ids (string or string[]) that must exist and be visible to the writer. */
  uploadRefs?: Record<string, MediaKind>;
  /**
   * Checks across fields that no one field's schema states (a setting's value read as its
   * value_type). They hold wherever data must be complete: create, publish, an update of a
   * published record, a model's output (a breach is re-asked like any other); a draft may break
   * them. `completeData` joins them to `data`.
   */
  rules?: (data: z.infer<Schema>) => DataRuleBreach[];
  /**
   * Generated data only: settles what a model cannot know or may not decide. Fields that follow
   * from the records the data names (an attempt's persona and turn limit are its simulation's;
   * `referenced` holds the data of each single-id reference that exists, by field), and fields
   * generation may not set (a generated model is never the org's default).
   */
  settleGenerated?: (data: z.infer<Schema>, referenced: Partial<Record<string, Record<string, unknown>>>) => z.infer<Schema>;
  /** A complete valid example of `data`: documentation, CLI help and tests. */
  example: z.infer<Schema>;
  /** Builds a schema-valid artifact from the instructions, deterministically, with no model. */
  offline: (input: OfflineInput) => OfflineArtifact<z.infer<Schema>>;
}
