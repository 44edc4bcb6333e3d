// The one-call statement path to PGlite (src/db/pglite-query.ts), against a real in-memory PGlite:
// values as the PostgreSQL backend gives them, named statements prepared once and kept bounded,
// errors that leave the connection usable, NOTIFY
// still reaching listeners, and a closed database failing at once instead of hanging.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { pgliteQuery } from '../../src/db/pglite-query.ts';
import '../../src/db/database.ts'; // sets the int8 parser both backends share

let pglite: PGlite;

before(async () => {
  pglite = await PGlite.create();
  await pglite.exec(`CREATE TABLE sample (id uuid PRIMARY KEY, n bigint, price numeric(10,4), at timestamptz, data jsonb, tags text[], refs uuid[], ok boolean, raw bytea)`);
});
after(async () => {
  if (!pglite.closed) await pglite.close();
});

describe('statements on PGlite in one protocol call', () => {
  it('answers the values node-postgres gives for the same row on PostgreSQL', async () => {
    const id = '0190b3a4-0000-7000-8000-000000000001';
    const ref = '0190b3a4-0000-7000-8000-000000000002';
    const at = new Date('2026-12-03T07:00:00.123Z');
    const inserted = await pgliteQuery(
      pglite,
      `INSERT INTO sample (id, n, price, at, data, tags, refs, ok, raw) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) RETURNING *`,
      [id, 2 ** 40, '12.5', at, JSON.stringify({ nested: [1, 'two'] }), ['a', 'b c'], [ref], true, Buffer.from([0, 255])],
    );
    assert.equal(inserted.affectedRows, 1);
    const row = inserted.rows[0]!;
    assert.equal(row.id, id);
    assert.equal(row.n, 2 ** 40, 'int8 is a number on both backends');
    assert.equal(row.price, '12.5000', 'numeric stays a string, as pg-types gives it');
    assert.deepEqual(row.at, at);
    assert.deepEqual(row.data, { nested: [1, 'two'] });
    assert.deepEqual(row.tags, ['a', 'b c']);
    assert.deepEqual(row.refs, [ref]);
    assert.equal(row.ok, true);
    assert.deepEqual(row.raw, Buffer.from([0, 255]));
    const updated = await pgliteQuery(pglite, `UPDATE sample SET n = n + 1 WHERE id = $1`, [id]);
    assert.deepEqual(updated, { rows: [], affectedRows: 1 });
    const nothing = await pgliteQuery(pglite, `SELECT * FROM sample WHERE id = $1`, ['0190b3a4-0000-7000-8000-0000000000ff']);
    assert.deepEqual(nothing.rows, []);
  });

  it('an error carries its SQLSTATE and leaves the connection usable, in and out of a transaction', async () => {
    await assert.rejects(pgliteQuery(pglite, `INSERT INTO sample (id) VALUES ($1)`, ['not-a-uuid']), (error: { code?: string }) => error.code === '22P02');
    assert.deepEqual((await pgliteQuery(pglite, `SELECT 1 AS one`, [])).rows, [{ one: 1 }]);
    await pgliteQuery(pglite, 'BEGIN', []);
    await assert.rejects(pgliteQuery(pglite, `SELECT 1 / $1::int AS x`, [0]), (error: { code?: string }) => error.code === '22012');
    await assert.rejects(pgliteQuery(pglite, `SELECT 1`, []), (error: { code?: string }) => error.code === '25P02', 'the transaction is aborted until rolled back');
    await pgliteQuery(pglite, 'ROLLBACK', []);
    assert.deepEqual((await pgliteQuery(pglite, `SELECT count(*)::int AS n FROM sample`, [])).rows, [{ n: 1 }]);
  });

  it('a statement text is prepared once and reused; a failed parse prepares nothing; the cache is bounded', async () => {
    const prepared = async () => (await pglite.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements`)).rows.map((row) => row.statement);
    const text = `SELECT $1::int + 1 AS next`;
    for (let n = 0; n < 3; n += 1) assert.deepEqual((await pgliteQuery(pglite, text, [n])).rows, [{ next: n + 1 }]);
    assert.equal((await prepared()).filter((statement) => statement === text).length, 1);
    await assert.rejects(pgliteQuery(pglite, `SELEC broken`, []), (error: { code?: string }) => error.code === '42601');
    // Inside a transaction nothing is run again, so a name left behind would show as 26000 here.
    await pgliteQuery(pglite, 'BEGIN', []);
    await assert.rejects(pgliteQuery(pglite, `SELEC broken`, []), (error: { code?: string }) => error.code === '42601', 'a text whose parse failed is parsed again, not bound to a name that does not exist');
    await pgliteQuery(pglite, 'ROLLBACK', []);
    assert.ok(!(await prepared()).includes('SELEC broken'));
    for (let n = 0; n < 300; n += 1) await pgliteQuery(pglite, `SELECT $1::int AS v${n}`, [n]);
    const count = (await prepared()).length;
    assert.ok(count <= 256, `${count} statements kept`);
    assert.deepEqual((await pgliteQuery(pglite, `SELECT $1::int AS v0`, [7])).rows, [{ v0: 7 }], 'an evicted statement is prepared again');
  });

  it('a prepared statement closed behind its back (DEALLOCATE ALL) is prepared again', async () => {
    const text = `SELECT $1::int * 2 AS doubled`;
    assert.deepEqual((await pgliteQuery(pglite, text, [2])).rows, [{ doubled: 4 }]);
    await pglite.exec('DEALLOCATE ALL');
    assert.deepEqual((await pgliteQuery(pglite, text, [3])).rows, [{ doubled: 6 }]);
  });

  it('a value that cannot be sent fails only its own call: the same text runs next time', async () => {
    const text = `SELECT ($1::jsonb)->>'n' AS n`;
    await assert.rejects(pgliteQuery(pglite, text, [{ n: 1n }]), /BigInt/);
    // Inside a transaction nothing is run again, so a name left behind would show as 26000 here.
    await pgliteQuery(pglite, 'BEGIN', []);
    assert.deepEqual((await pgliteQuery(pglite, text, [{ n: 2 }])).rows, [{ n: '2' }]);
    await pgliteQuery(pglite, 'ROLLBACK', []);
  });

  it('a prepared statement whose table changed shape runs again as a new one outside a transaction', async () => {
    await pglite.exec(`CREATE TABLE reshaped (id int PRIMARY KEY)`);
    await pgliteQuery(pglite, `INSERT INTO reshaped (id) VALUES ($1)`, [1]);
    const text = `SELECT * FROM reshaped WHERE id = $1`;
    assert.deepEqual((await pgliteQuery(pglite, text, [1])).rows, [{ id: 1 }]);
    await pglite.exec(`ALTER TABLE reshaped ADD COLUMN label text NOT NULL DEFAULT 'new'`);
    assert.deepEqual((await pgliteQuery(pglite, text, [1])).rows, [{ id: 1, label: 'new' }]);
    await pglite.exec(`ALTER TABLE reshaped ADD COLUMN extra int`);
    await pgliteQuery(pglite, 'BEGIN', []);
    await assert.rejects(pgliteQuery(pglite, text, [1]), (error: { code?: string }) => error.code === '0A000', 'inside a transaction the error is the caller\'s');
    await pgliteQuery(pglite, 'ROLLBACK', []);
    assert.deepEqual((await pgliteQuery(pglite, text, [1])).rows, [{ id: 1, label: 'new', extra: null }]);
  });

  it('a NOTIFY sent by a statement reaches the listeners', async () => {
    const heard: string[] = [];
    const unlisten = await pglite.listen('sample_channel', (payload) => heard.push(payload));
    await pgliteQuery(pglite, `SELECT pg_notify('sample_channel', $1)`, ['hello']);
    for (let wait = 0; wait < 50 && heard.length === 0; wait += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(heard, ['hello']);
    await unlisten();
  });

  it('a statement on a closed database fails at once', () => {
    // In a child process with a deadline: had it regressed to PGlite's protocol loop on a closed
    // module, that loop is synchronous and would hang this process beyond any timer.
    const script = `
      const { PGlite } = await import('@electric-sql/pglite');
      const { pgliteQuery } = await import(${JSON.stringify(new URL('../../src/db/pglite-query.ts', import.meta.url).href)});
      const pglite = await PGlite.create();
      await pglite.close();
      try { await pgliteQuery(pglite, 'SELECT 1', []); console.log('answered'); } catch (error) { console.log('refused: ' + error.message); }`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, cwd: new URL('../..', import.meta.url) });
    assert.equal(child.signal, null, `the child hung and was killed (${child.stderr})`);
    assert.equal(child.stdout.trim(), 'refused: PGlite is closed', child.stderr);
  });
});
