import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('keeps events at least the contract\'s 7 days: less is refused at start, naming the variable', () => {
    assert.equal(loadConfig({}, {}).GLOW_EVENT_RETENTION_DAYS, 7);
    assert.equal(loadConfig({}, { GLOW_EVENT_RETENTION_DAYS: 30 }).GLOW_EVENT_RETENTION_DAYS, 30);
    assert.throws(() => loadConfig({}, { GLOW_EVENT_RETENTION_DAYS: 3 }), /GLOW_EVENT_RETENTION_DAYS: .*>=7/);
  });
});
