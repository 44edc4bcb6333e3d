// Entry point of `glow` (bin/glow.js, `npm run glow`).
import { run } from './run.ts';

const code = await run(process.argv.slice(2));
// Exit once stdout and stderr have flushed: idle keep-alive sockets must not hold the process open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
