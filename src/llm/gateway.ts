import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { chatWithModel } from './chat.ts';
import { generateWithModel } from './generate.ts';
import { generateOffline, replyOffline } from './offline.ts';
import { ConcurrencyLimits } from './providers.ts';
import { resolveModel } from './resolve.ts';
import type { ModelGateway } from './types.ts';

export { offlineModel } from './resolve.ts';

export interface ModelGatewayOptions {
  database: Database;
  config: Config;
}

/**
 * The one door to language models: which model a request uses, structured artifact generation
 * (with repair and re-asks) and streamed chat replies, over OpenAI, Anthropic, any
 * OpenAI-compatible server, or the built-in offline generator.
 */
export function createModelGateway(options: ModelGatewayOptions): ModelGateway {
  const { database, config } = options;
  const limits = new ConcurrencyLimits();
  return {
    resolveModel(orgId, requestedModelId, purpose = 'text', known) {
      return resolveModel(database, config, orgId, requestedModelId, purpose, known);
    },
    async generateArtifact(request) {
      if (request.model.providerKind === 'offline') return generateOffline(request);
      return generateWithModel(request, config, limits);
    },
    async chatReply(request) {
      if (request.model.providerKind === 'offline') return replyOffline(request);
      return chatWithModel(request, config, limits);
    },
  };
}
