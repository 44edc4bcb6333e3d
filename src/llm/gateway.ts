import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { generateOffline, replyOffline } from './offline.ts';
import type { ArtifactGenerationRequest, ChatReplyRequest, GeneratedArtifact, ChatReply, ModelGateway, ResolvedModel } from './types.ts';

export interface ModelGatewayOptions {
  database: Database;
  config: Config;
}

export function offlineModel(timeoutMs: number): ResolvedModel {
  return { modelId: 'offline', modelName: 'offline', providerKind: 'offline', inputPricePerToken: 0, outputPricePerToken: 0, timeoutMs };
}

export function createModelGateway(options: ModelGatewayOptions): ModelGateway {
  const { config } = options;
  return {
    async resolveModel(): Promise<ResolvedModel> {
      return offlineModel(config.GLOW_LLM_TIMEOUT_MS);
    },
    async generateArtifact(request: ArtifactGenerationRequest): Promise<GeneratedArtifact> {
      if (request.model.providerKind === 'offline') return generateOffline(request);
      throw new Error(`Provider ${request.model.providerKind} is not wired yet.`);
    },
    async chatReply(request: ChatReplyRequest): Promise<ChatReply> {
      if (request.model.providerKind === 'offline') return replyOffline(request);
      throw new Error(`Provider ${request.model.providerKind} is not wired yet.`);
    },
  };
}
