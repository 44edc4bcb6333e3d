import type { GenerationModule } from '../generation/module.ts';
import type { MediaService } from '../media/module.ts';
import type { CoreServices, GlowModule } from '../module.ts';
import { AttemptDeadlines } from './deadlines.ts';
import { personaReplyHandler } from './reply.ts';
import { chatOperations } from './routes.ts';
import { ChatService, PERSONA_REPLY_RUN } from './service.ts';

/** Attempts and their chat turns. The persona's replies are runs, executed by the generation module's workers; timed-out attempts are ended by a sweep. */
export function createChatModule(services: CoreServices, generation: GenerationModule, media: MediaService): GlowModule {
  const chat = new ChatService(services.database, services.artifacts, generation.generation);
  generation.registerRunHandler(
    PERSONA_REPLY_RUN,
    personaReplyHandler({ database: services.database, gateway: generation.modelGateway, mediaGateway: generation.mediaGateway, media }),
  );
  const deadlines = new AttemptDeadlines(services.database, services.artifacts);
  return {
    name: 'chat',
    operations: chatOperations(chat),
    start: async () => deadlines.start(),
    stop: async () => deadlines.stop(),
  };
}
