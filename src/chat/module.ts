import type { GenerationModule } from '../generation/module.ts';
import type { MediaService } from '../media/module.ts';
import type { CoreServices, GlowModule } from '../module.ts';
import { endTimedOutAttempts } from './deadlines.ts';
import { personaReplyHandler } from './reply.ts';
import { chatOperations } from './routes.ts';
import { ChatService, PERSONA_REPLY_RUN } from './service.ts';

const DEADLINE_SWEEP_MS = 60_000;

/** Attempts and their chat turns. The persona's replies are runs, executed by the generation module's workers; timed-out attempts are ended by a sweep. */
export function createChatModule(
  services: CoreServices,
  generation: GenerationModule,
  media: MediaService,
  warn: (details: Record<string, unknown>, message: string) => void = () => {},
): GlowModule {
  const chat = new ChatService(services.database, services.artifacts, generation.generation);
  generation.registerRunHandler(
    PERSONA_REPLY_RUN,
    personaReplyHandler({ database: services.database, artifacts: services.artifacts, gateway: generation.modelGateway, mediaGateway: generation.mediaGateway, media }),
  );
  let deadlines: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  return {
    name: 'chat',
    operations: chatOperations(chat),
    async start() {
      // In every process, once a minute: an attempt reads in_progress at most a minute past its time.
      deadlines = setInterval(() => {
        const onError = (attemptId: string, error: unknown) => warn({ err: error, attempt_id: attemptId }, 'attempt deadline: could not end the attempt');
        sweeping ??= endTimedOutAttempts(services.database, services.artifacts, { onError })
          .catch((error) => warn({ err: error }, 'attempt deadline sweep failed'))
          .finally(() => (sweeping = undefined));
      }, DEADLINE_SWEEP_MS);
      deadlines.unref();
    },
    async stop() {
      clearInterval(deadlines);
      await sweeping;
    },
  };
}
