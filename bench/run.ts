// `npm run bench [name...]`: runs each bench/*.bench.ts in its own process, one after another,
// so one benchmark's memory and sockets never colour the next one's figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => wanted.length === 0 || wanted.some((word) => name.includes(word)))
  .sort();
let failed = 0;
for (const name of benches) {
  process.stdout.write(`\n=== ${name}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(here, name)], { stdio: 'inherit', env: { ...process.env, GLOW_LOG_LEVEL: 'silent' } });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
