// The kept token identities (IdentityService) against a database whose answers the test releases
// by hand, so a change can be announced while a lookup is in flight: the one race the end-to-end
// tests in suites/foundation.test.ts cannot time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ArtifactService } from '../../src/artifacts/service.ts';
import type { Database } from '../../src/db/database.ts';
import { IdentityService } from '../../src/identity/service.ts';
import { hashToken } from '../../src/identity/tokens.ts';

const TOKEN = 'glow_unit-test-token';

/** A database whose token lookups wait until the test answers them; `lookups` counts them. */
function heldDatabase() {
  const waiting: ((rows: unknown[]) => void)[] = [];
  let lookups = 0;
  // Any query builder chain (selectFrom().innerJoin()…where()) ends in execute(), which waits.
  const chain: any = new Proxy(() => {}, {
    get: (_target, property) =>
      property === 'execute'
        ? () => {
            lookups += 1;
            return new Promise((resolve) => waiting.push(resolve));
          }
        : () => chain,
  });
  const database = { db: chain, parallelTransactions: false, listen: async () => async () => {} } as unknown as Database;
  const row = { token_hash: hashToken(TOKEN), token_id: 't1', org_id: 'o1', profile_id: 'p1', role: 'admin', operator_id: null };
  return {
    database,
    get lookups() {
      return lookups;
    },
    /** Answers the oldest waiting lookup with the token's row, once one is waiting (throws if none comes within 2 s). */
    async answer(): Promise<void> {
      const deadline = Date.now() + 2000;
      while (waiting.length === 0) {
        if (Date.now() > deadline) throw new Error('no lookup is waiting');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      waiting.shift()!([row]);
    },
  };
}

describe('kept token identities', () => {
  test('an identity read is kept: the next request with the token reads nothing', async () => {
    const held = heldDatabase();
    const identity = new IdentityService(held.database, {} as ArtifactService, 10_000);
    const first = identity.authenticate(TOKEN);
    await held.answer();
    assert.equal((await first)?.role, 'admin');
    assert.equal((await identity.authenticate(TOKEN))?.profileId, 'p1');
    assert.equal(held.lookups, 1);
  });

  test('a lookup in flight when a change is announced answers its request but keeps nothing', async () => {
    const held = heldDatabase();
    const identity = new IdentityService(held.database, {} as ArtifactService, 10_000);
    const first = identity.authenticate(TOKEN);
    while (held.lookups === 0) await new Promise((resolve) => setImmediate(resolve));
    identity.forgetActors();
    await held.answer();
    assert.equal((await first)?.role, 'admin', 'read before the change: still this request\'s answer');
    const second = identity.authenticate(TOKEN);
    for (let turn = 0; turn < 50 && held.lookups < 2; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(held.lookups, 2, 'the token is read again');
    await held.answer();
    assert.equal((await second)?.role, 'admin');
  });

  test('with GLOW_TOKEN_CACHE_SECONDS 0 every request reads the token', async () => {
    const held = heldDatabase();
    const identity = new IdentityService(held.database, {} as ArtifactService, 0);
    for (let i = 0; i < 2; i += 1) {
      const pending = identity.authenticate(TOKEN);
      await held.answer();
      await pending;
    }
    assert.equal(held.lookups, 2);
  });
});
