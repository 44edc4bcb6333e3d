// Counts the SQL statements the server issues per completed offline run (PGlite), by statement
// shape: `tsx bench/statements.ts`. Not a timing benchmark (no .bench.ts suffix): a diagnostic.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { countUnfinishedRuns } from '../src/generation/store.ts';
import { startServer } from '../test/support/harness.ts';

const RUNS = Number(process.env.GLOW_STATEMENT_RUNS ?? 200);
const counts = new Map<string, number>();
const rows = new Map<string, number>();
let counting = false;
const shape = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 110);
const record = (text: string, returned: number) => {
  const key = shape(text);
  counts.set(key, (counts.get(key) ?? 0) + 1);
  rows.set(key, (rows.get(key) ?? 0) + returned);
};
const proto = PGlite.prototype as any;
// Scripts go through exec; every parameterized statement is one execProtocol call (src/db/pglite-query.ts)
// holding one Bind of a named statement, preceded by that statement's Parse the first time its text
// is sent (and by Closes of statements pushed out of the cache). Each message: a type byte, a
// 4-byte length, then NUL-terminated strings (Parse: name, text; Bind: portal, statement name).
const textOfStatement = new Map<string, string>();
const originalExec = proto.exec;
proto.exec = async function (this: unknown, text: string, ...rest: unknown[]) {
  const results = (await originalExec.call(this, text, ...rest)) as { rows?: unknown[] }[];
  if (counting) record(text, results.reduce((sum, one) => sum + (one.rows?.length ?? 0), 0));
  return results;
};
const originalExecProtocol = proto.execProtocol;
proto.execProtocol = async function (this: unknown, message: Uint8Array, ...rest: unknown[]) {
  const result = (await originalExecProtocol.call(this, message, ...rest)) as { messages: { name: string }[] };
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const cString = (start: number) => bytes.toString('utf8', start, bytes.indexOf(0, start));
  for (let at = 0; at < bytes.length; at += 1 + bytes.readUInt32BE(at + 1)) {
    if (bytes[at] === 0x50) {
      const name = cString(at + 5);
      textOfStatement.set(name, cString(at + 5 + Buffer.byteLength(name) + 1));
    } else if (bytes[at] === 0x42 && counting) {
      const portal = cString(at + 5);
      const name = cString(at + 5 + Buffer.byteLength(portal) + 1);
      record(textOfStatement.get(name) ?? `(statement ${name})`, result.messages.filter((reply) => reply.name === 'dataRow').length);
    }
  }
  return result;
};
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-statements-'));
const adminToken = 'statements-admin';
const { app, database, baseUrl } = await startServer({ GLOW_DATA_DIR: dataDir, GLOW_ADMIN_TOKEN: adminToken, GLOW_WORKERS: 8 });
const trigger = () =>
  fetch(`${baseUrl}/persona/generate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ instructions: ['A passive student who starts every reply with Uh...'] }),
  }).then((response) => {
    if (!response.ok) throw new Error(`generate: ${response.status}`);
  });
const unfinished = () => countUnfinishedRuns(database.db);
const settle = async () => {
  while ((await unfinished()) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
};
await Promise.all(Array.from({ length: 50 }, trigger));
await settle();
counting = true;
for (let i = 0; i < RUNS; i += 50) await Promise.all(Array.from({ length: 50 }, trigger));
await settle();
counting = false;
const total = [...counts.values()].reduce((a, b) => a + b, 0);
for (const [text, count] of [...counts.entries()].sort((a, b) => b[1] - a[1])) console.log(`${(count / RUNS).toFixed(2).padStart(6)} ${((rows.get(text) ?? 0) / count).toFixed(1).padStart(7)} rows  ${text}`);
console.log(`statements per run (triggers in batches of 50 included, settle polling included): ${(total / RUNS).toFixed(2)}`);
await app.close();
await database.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
