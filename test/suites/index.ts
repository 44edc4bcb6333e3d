// Each suite registers its tests when imported; both backend entry files import this list.
await import('./foundation.test.ts');
await import('./artifacts.test.ts');
await import('./media.test.ts');
await import('./generation.test.ts');
await import('./media-generation.test.ts');
await import('./chat.test.ts');
await import('./cli.test.ts');
await import('./console.test.ts');
await import('./lifecycle.test.ts');
