// Every integration suite against one embedded PGlite database shared by this process.
import { after } from 'node:test';
import { closeHarness } from '../support/harness.ts';

process.env.GLOW_TEST_BACKEND = 'pglite';
after(closeHarness);
await import('../suites/index.ts');
