import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Unlisten } from '../db/database.ts';
import { createModelGateway } from '../llm/gateway.ts';
import type { CallRecordSource, CoreServices, GlowModule } from '../module.ts';
import { EventHub } from '../streaming/hub.ts';
import { SseStreams } from '../streaming/sse.ts';
import { GroupService } from './groups.ts';
import { RunQueue } from './queue.ts';
import { generationOperations } from './routes.ts';
import { RunExecutor } from './runner.ts';
import { CANCEL_CHANNEL, GenerationService } from './service.ts';
import { RunSweeper } from './sweeper.ts';
import { WatchService } from './watch.ts';

export interface GenerationModule extends GlowModule {
  callRecords: CallRecordSource;
  /** Triggering, cancelling and awaiting runs, for other concerns (chat turns are runs too). */
  generation: GenerationService;
  hub: EventHub;
  sweeper: RunSweeper;
}

/** How long a worker's claim on a run lasts without renewal: a dead worker's run is taken over after this. */
export const RUN_LEASE_MS = 15_000;
export const SWEEP_INTERVAL_MS = 5_000;
export const MAX_RUN_ATTEMPTS = 3;

export async function createGenerationModule(services: CoreServices): Promise<GenerationModule> {
  const { config, database, artifacts } = services;
  const ownerId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const gateway = createModelGateway({ database, config });
  const hub = new EventHub(database);
  const streams = new SseStreams();
  const queue = new RunQueue(database);
  const executor = new RunExecutor({ database, artifacts, gateway, ownerId, leaseMs: RUN_LEASE_MS, maxAttempts: MAX_RUN_ATTEMPTS });
  const generation = new GenerationService({ config, database, queue, hub, executor, gateway });
  const groups = new GroupService(database);
  const watch = new WatchService(database, hub, streams);
  const sweeper = new RunSweeper({ database, queue, maxAttempts: MAX_RUN_ATTEMPTS, intervalMs: SWEEP_INTERVAL_MS, retentionDays: config.GLOW_EVENT_RETENTION_DAYS });
  let stopListeningForCancels: Unlisten | undefined;

  return {
    name: 'generation',
    operations: generationOperations({ generation, groups, watch }),
    callRecords: { findCallRecord: (actor, runId) => groups.callRecord(actor, runId) },
    generation,
    hub,
    sweeper,
    async start() {
      await hub.start();
      stopListeningForCancels = await database.listen(CANCEL_CHANNEL, (runId) => {
        executor.abort(runId, 'cancelled');
      });
      await queue.start();
      if (config.GLOW_WORKERS > 0) await queue.work(config.GLOW_WORKERS, ({ run_id }) => executor.execute(run_id));
      sweeper.start();
    },
    async beforeClose() {
      streams.closeAll();
    },
    async stop() {
      sweeper.stop();
      streams.closeAll();
      await executor.shutdown();
      await queue.stop();
      await stopListeningForCancels?.();
      await hub.stop();
    },
  };
}
