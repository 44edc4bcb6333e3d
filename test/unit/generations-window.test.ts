import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

// The window is computed in a process whose zone is five and a half hours from UTC: a date-time
// read in the server's own zone would land there instead of on the UTC instant the docs promise.
const PROGRAM = `
import { generationsBodySchema, generationsWindow } from './src/generation/http-schemas.ts';
const body = generationsBodySchema.parse({ date_from: '2026-12-03T09:30:00', date_to: '2026-12-04' });
const window = generationsWindow(body);
console.log(JSON.stringify({ offset: new Date('2026-12-03T09:30:00').getTimezoneOffset(), from: window.from.toISOString(), to: window.to.toISOString() }));
`;

describe('generations window', () => {
  it('reads a date-time without an offset as UTC, and a bare date_to as the end of its UTC day, whatever the server\'s zone', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROGRAM], {
      env: { ...process.env, TZ: 'Asia/Kolkata' },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim());
    assert.equal(result.offset, -330, 'the child runs in a zone 5:30 east of UTC');
    assert.equal(result.from, '2026-12-03T09:30:00.000Z');
    assert.equal(result.to, '2026-12-04T23:59:59.999Z');
  });
});
