import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Unlisten } from '../db/database.ts';
import { createModelGateway } from '../llm/gateway.ts';
import { createMediaGateway, type MediaGateway } from '../llm/media.ts';
import type { ModelGateway } from '../llm/types.ts';
import type { MediaService } from '../media/module.ts';
import type { CallRecordSource, CoreServices, GlowModule } from '../module.ts';
import { EventHub } from '../streaming/hub.ts';
import { SseStreams } from '../streaming/sse.ts';
import { GroupService } from './groups.ts';
import { MediaRequestCheck } from './media-request.ts';
import { MediaSteps } from './media-step.ts';
import { RunQueue } from './queue.ts';
import { generationOperations } from './routes.ts';
import { RunExecutor, type RunHandler } from './runner.ts';
import { CANCEL_CHANNEL, GenerationService } from './service.ts';
import { cancelRequestedAmong, holdQueuedRuns } from './store.ts';
import { RunSweeper } from './sweeper.ts';
import { WatchService } from './watch.ts';

export interface GenerationModule extends GlowModule {
  callRecords: CallRecordSource;
  /** Triggering, cancelling and awaiting runs, for other concerns (chat turns are runs too). */
  generation: GenerationService;
  /** Text models for other concerns (a persona's chat reply), sharing this module's per-provider concurrency limits. */
  modelGateway: ModelGateway;
  /** Images, speech and transcription for other concerns (a chat reply's voice, a learner's audio). */
  mediaGateway: MediaGateway;
  /** Lets another concern define a kind of run that this module's workers execute (chat replies). */
  registerRunHandler(kind: string, handler: RunHandler): void;
  hub: EventHub;
  sweeper: RunSweeper;
}

/**
 * How long a worker's claim on a run lasts without renewal (renewed every third of it): a dead
 * worker's run is taken over after this plus at most one sweep, so within about 15 s.
 */
export const RUN_LEASE_MS = 10_000;
export const SWEEP_INTERVAL_MS = 5_000;
export const MAX_RUN_ATTEMPTS = 3;

/** `media` stores what runs produce; generation is built after the media module for that reason. */
export async function createGenerationModule(services: CoreServices, media: MediaService): Promise<GenerationModule> {
  const { config, database, artifacts } = services;
  const ownerId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const gateway = createModelGateway({ database, config });
  const mediaGateway = createMediaGateway({ database, config, text: gateway });
  const hub = new EventHub(database);
  const streams = new SseStreams();
  const queue = new RunQueue(database);
  const mediaSteps = new MediaSteps(database, mediaGateway, media);
  const executor = new RunExecutor({ database, artifacts, gateway, ownerId, leaseMs: RUN_LEASE_MS, maxAttempts: MAX_RUN_ATTEMPTS, media: mediaSteps });
  const mediaCheck = new MediaRequestCheck(artifacts, gateway, media);
  const generation = new GenerationService({ config, database, queue, hub, executor, gateway, mediaCheck });
  const groups = new GroupService(database);
  const watch = new WatchService(database, hub, streams);
  const sweeper = new RunSweeper({ database, queue, maxAttempts: MAX_RUN_ATTEMPTS, intervalMs: SWEEP_INTERVAL_MS, retentionDays: config.GLOW_EVENT_RETENTION_DAYS, foreground: services.foreground });
  let stopListeningForCancels: Unlisten | undefined;

  return {
    name: 'generation',
    operations: generationOperations({ generation, groups, watch, foreground: services.foreground }),
    callRecords: { findCallRecord: (actor, runId) => groups.callRecord(actor, runId) },
    generation,
    modelGateway: gateway,
    mediaGateway,
    registerRunHandler: (kind, handler) => executor.registerHandler(kind, handler),
    hub,
    sweeper,
    async start() {
      await hub.start();
      stopListeningForCancels = await database.listen(
        CANCEL_CHANNEL,
        (runId) => {
          executor.abort(runId, 'cancelled');
        },
        // The listening connection was restored: a cancel sent meanwhile is in the run's row.
        () => {
          void cancelRequestedAmong(database.db, executor.runningHere()).then(
            (runIds) => runIds.forEach((runId) => executor.abort(runId, 'cancelled')),
            () => {},
          );
        },
      );
      await queue.start();
      if (config.GLOW_WORKERS > 0) {
        await queue.startWorking({
          concurrency: config.GLOW_WORKERS,
          handler: (runId) => executor.execute(runId),
          hold: (runIds, ms) => holdQueuedRuns(database.db, runIds, ms),
          holdMs: RUN_LEASE_MS,
          foreground: services.foreground,
        });
      }
      sweeper.start();
    },
    async beforeClose() {
      streams.closeAll();
    },
    async stop() {
      sweeper.stop();
      streams.closeAll();
      // No new jobs first, so nothing is claimed after the runs here are told to stop.
      await queue.stopFetching();
      await executor.shutdown();
      await queue.stop();
      await stopListeningForCancels?.();
      await hub.stop();
    },
  };
}
