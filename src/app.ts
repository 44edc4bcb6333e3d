import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { startPgliteMaintenance, type Maintenance } from './db/maintenance.ts';
import { pendingMigrations } from './db/migrate.ts';
import { artifactOperations } from './artifacts/routes.ts';
import { ArtifactService } from './artifacts/service.ts';
import { buildOpenApiDocument } from './http/openapi.ts';
import { defineOperation, registerOperations, type Operation } from './http/operations.ts';
import { ForegroundWork, MAINTENANCE_WAIT_MS, reportServedRequests } from './http/foreground.ts';
import { createHttpServer } from './http/server.ts';
import { IdentityService, TokenRevocation } from './identity/service.ts';
import { adminGuard } from './identity/admin-guard.ts';
import { bearerAuthenticator, identityOperations, REPLACED_BY_IDENTITY } from './identity/routes.ts';
import type { CoreServices, GlowModule } from './module.ts';
import { createMediaModule, createUploadLinks, enableMultipart, isUploadOperation } from './media/module.ts';
import { createGenerationModule, type GenerationModule } from './generation/module.ts';
import { createChatModule } from './chat/module.ts';
import { registerConsole } from './console/routes.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export type Services = CoreServices;

export interface GlowApp {
  http: FastifyInstance;
  services: Services;
  operations: Operation[];
  /** Stops accepting requests, lets in-flight ones finish, stops background work. The database is the caller's. */
  close(): Promise<void>;
}

function healthOperations(database: Database): Operation[] {
  return [
    defineOperation({
      method: 'GET',
      path: '/health',
      operationId: 'health',
      summary: 'Liveness: the process is up',
      tag: 'health',
      access: 'public',
      response: z.strictObject({ status: z.literal('ok'), version: z.string() }),
      handler: async () => ({ status: 'ok' as const, version: VERSION }),
    }),
    defineOperation({
      method: 'GET',
      path: '/ready',
      operationId: 'ready',
      summary: 'Readiness: the database answers and every migration is applied',
      tag: 'health',
      access: 'public',
      response: z.strictObject({ status: z.enum(['ready', 'not_ready']), database: z.string(), pending_migrations: z.array(z.string()) }),
      errors: [503],
      handler: async ({ reply }) => {
        try {
          const pending = await pendingMigrations(database);
          const ready = pending.length === 0;
          reply.status(ready ? 200 : 503);
          return { status: ready ? ('ready' as const) : ('not_ready' as const), database: database.backend, pending_migrations: pending };
        } catch {
          reply.status(503);
          return { status: 'not_ready' as const, database: database.backend, pending_migrations: [] };
        }
      },
    }),
  ];
}

export async function createApp(config: Config, database: Database): Promise<GlowApp> {
  const http = createHttpServer({ logLevel: config.GLOW_LOG_LEVEL });
  const artifacts = new ArtifactService(database, createUploadLinks(database));
  artifacts.addWriteGuard(adminGuard);
  const foreground = new ForegroundWork();
  reportServedRequests(http.server, foreground);
  const identity = new IdentityService(database, artifacts, config.GLOW_TOKEN_CACHE_SECONDS * 1000);
  const revocation = new TokenRevocation(database, artifacts);
  // Another process's changes arrive through the database (IdentityService.followChanges); this
  // process's own are forgotten as soon as they commit.
  artifacts.onCommittedChange((type) => {
    if (type === 'profile' || type === 'auth') identity.forgetActors();
  });
  const services: Services = { config, database, artifacts, identity, foreground };
  // Media serves generation's call records; generation stores the media its runs produce. Media is
  // built first and reaches the call records through generation once that exists.
  let generation: GenerationModule | undefined;
  const media = await createMediaModule(services, { findCallRecord: (actor, runId) => generation!.callRecords.findCallRecord(actor, runId) });
  generation = await createGenerationModule(services, media.service);
  const chat = createChatModule(services, generation, media.service, (details, message) => http.log.warn(details, message));
  let maintenance: Maintenance | undefined;
  const databaseMaintenance: GlowModule = {
    name: 'database maintenance',
    operations: [],
    start: async () => {
      maintenance = startPgliteMaintenance(
        database,
        config.GLOW_PGLITE_VACUUM_MINUTES * 60_000,
        (table, error) => http.log.warn({ err: error, table }, 'database maintenance: VACUUM failed'),
        () => foreground.quietOrAfter(MAINTENANCE_WAIT_MS),
      );
    },
    // First thing on the way down: a pass under way must not hold the one connection while the rest stops.
    beforeClose: async () => maintenance?.stop(),
  };
  let stopFollowingIdentity: (() => Promise<void>) | undefined;
  const identityChanges: GlowModule = {
    name: 'identity changes',
    operations: [],
    start: async () => {
      stopFollowingIdentity = await identity.followChanges();
    },
    stop: async () => stopFollowingIdentity?.(),
  };
  const modules: GlowModule[] = [databaseMaintenance, identityChanges, media, generation, chat];

  const operations: Operation[] = [
    ...healthOperations(database),
    ...identityOperations(identity, revocation),
    ...artifactOperations(artifacts, REPLACED_BY_IDENTITY),
    ...modules.flatMap((module) => module.operations),
  ];

  let openApiDocument: Record<string, unknown> | undefined;
  operations.push(
    defineOperation({
      method: 'GET',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This API\'s OpenAPI 3.1 document',
      tag: 'health',
      access: 'public',
      handler: async () => (openApiDocument ??= buildOpenApiDocument(operations, { version: VERSION })),
    }),
  );
  const authenticate = bearerAuthenticator(identity);
  registerOperations(http, operations.filter((operation) => !isUploadOperation(operation)), authenticate);
  // Multipart parsing only in the upload operations' own scope: JSON operations still answer 415 to a form.
  await http.register(async (scope) => {
    await enableMultipart(scope, config.GLOW_MAX_UPLOAD_BYTES);
    registerOperations(scope, operations.filter(isUploadOperation), authenticate);
  });
  registerConsole(http);
  await http.ready();
  for (const module of modules) await module.start?.();

  return {
    http,
    services,
    operations,
    async close() {
      const closing = http.close();
      for (const module of modules) await module.beforeClose?.();
      await closing;
      for (const module of [...modules].reverse()) await module.stop?.();
    },
  };
}
