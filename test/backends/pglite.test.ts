// Every integration suite against one embedded PGlite database shared by this process.
import { after } from 'node:test';
import { closeHarness } from '../support/harness.ts';

process.env.GLOW_TEST_BACKEND = 'pglite';
await import('../suites/index.ts');
// Registered once the suites are: on Node 22, with --test-name-pattern, a root hook registered
// before them ran before any test, and the harness the tests then started was never closed.
after(closeHarness);
