// The one test command (`npm test`): unit tests, then every integration suite on PGlite and on
// PostgreSQL (when one is reachable), in one node:test run so one summary covers them all.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const filesIn = (folder: string) =>
  readdirSync(path.join(root, folder))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => path.join(folder, name));

const only = process.argv.slice(2);
const files = only.length > 0 ? only : [...filesIn('test/unit'), ...filesIn('test/backends')];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, GLOW_LOG_LEVEL: process.env.GLOW_LOG_LEVEL ?? 'silent' },
});
process.exit(result.status ?? 1);
