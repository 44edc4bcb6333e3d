import type { CoreServices, GlowModule } from '../module.ts';

export async function createGenerationModule(_services: CoreServices): Promise<GlowModule> {
  return { name: 'generation', operations: [] };
}
