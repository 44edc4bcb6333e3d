// Worker entry point. Node 20 does not run `--import tsx` inside worker threads, so when the server
// runs from TypeScript sources this registers tsx for the worker before loading the real worker.
import { register } from 'tsx/esm/api';

register();
await import('./speech-worker.ts');
