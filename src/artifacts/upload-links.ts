import type { Executor } from '../db/database.ts';
import type { Actor } from '../identity/actor.ts';
import type { MediaKind } from './types.ts';

export interface UploadReference {
  /** The `data` field that holds the ids, for error messages. */
  field: string;
  kind: MediaKind;
  ids: string[];
}

/**
 * How the artifact service checks and records the uploads an artifact points at. The media
 * concern implements it; the artifact service only calls it, so it never depends on media.
 */
export interface ArtifactUploadLinks {
  /** Throws 404 when an id is unknown or not visible to the actor, 400 when its kind is wrong. */
  assertUsable(executor: Executor, actor: Actor, references: UploadReference[]): Promise<void>;
  /** Replaces the set of uploads the artifact points at (which makes them readable to whoever can read it). */
  link(executor: Executor, orgId: string, artifactId: string, uploadIds: string[]): Promise<void>;
}

/** Until media storage is wired in, references are only checked for their format by the schema. */
export const noUploadLinks: ArtifactUploadLinks = {
  async assertUsable() {},
  async link() {},
};
