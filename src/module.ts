import type { Config } from './config.ts';
import type { ForegroundWork } from './http/foreground.ts';
import type { Database } from './db/database.ts';
import type { ArtifactService } from './artifacts/service.ts';
import type { IdentityService } from './identity/service.ts';
import type { Operation } from './http/operations.ts';

/** What every concern is given when the app is put together. */
export interface CoreServices {
  config: Config;
  database: Database;
  artifacts: ArtifactService;
  identity: IdentityService;
  /** Requests being served; background work (runs) yields to them. */
  foreground: ForegroundWork;
}

/**
 * A concern plugged into the app: its operations (routes, OpenAPI, CLI help come from them) and
 * its background work. Building the operations must not touch the database, so the catalogue of
 * operations can be listed without a running server.
 */
export interface GlowModule {
  name: string;
  operations: Operation[];
  /** Starts background work (workers, listeners) after the server is ready. */
  start?(): Promise<void>;
  /** Ends long-lived responses (event streams) so the HTTP server can finish closing; called first. */
  beforeClose?(): Promise<void>;
  /** Stops background work; called after the HTTP server stopped taking requests. */
  stop?(): Promise<void>;
}

/**
 * The JSON record of one generation call (request, model output, events), served by
 * `call_download`. Generation provides it; media serves it; neither imports the other.
 */
export interface CallRecordSource {
  /** The record of run `runId` if the actor may see that run, else undefined (404). */
  findCallRecord(actor: import('./identity/actor.ts').Actor, runId: string): Promise<Record<string, unknown> | undefined>;
}
