import type { CallRecordSource, CoreServices, GlowModule } from '../module.ts';

export interface GenerationModule extends GlowModule {
  callRecords: CallRecordSource;
}

export async function createGenerationModule(_services: CoreServices): Promise<GenerationModule> {
  return { name: 'generation', operations: [], callRecords: { findCallRecord: async () => undefined } };
}
