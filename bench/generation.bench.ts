// Generation benchmarks (figures printed, nothing asserted): trigger latency under 200 concurrent
// triggers, completed offline runs per second, and SSE fan-out to many idle-ish watchers.
// Runs on PGlite, and on PostgreSQL too when one is reachable (GLOW_TEST_DATABASE_URL or the default).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { errorEvent } from '../src/generation/events.ts';
import { appendEvents } from '../src/streaming/event-log.ts';
import { createScratchDatabase, DEFAULT_POSTGRES_URL, startServer } from '../test/support/harness.ts';

const TRIGGER_CONCURRENCY = 200;
const RUNS_FOR_THROUGHPUT = 400;
const WATCHERS = Number(process.env.GLOW_BENCH_WATCHERS ?? 10_000);
const WATCHER_GROUPS = Math.max(1, Math.floor(WATCHERS / 10));
const EVENTS_PER_SECOND = 1000;
const PUBLISH_SECONDS = 5;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

async function timed(call: () => Promise<Response>): Promise<number> {
  const start = performance.now();
  const response = await call();
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return performance.now() - start;
}

async function concurrently(count: number, call: () => Promise<Response>): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, () => timed(call)));
}

/** The client side of the fan-out runs in its own process so the server's RSS is the server's alone. */
const WATCHER_SCRIPT = `
const http = require('node:http');
const [url, token, groups, count] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4]), Number(process.argv[5])];
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const latencies = [];
let open = 0, received = 0, failed = 0;
function openOne(i) {
  return new Promise((resolve) => {
    const request = http.get(url + '/persona/watch?group_id=' + groups[i % groups.length], { agent, headers: { authorization: 'Bearer ' + token } }, (response) => {
      if (response.statusCode !== 200) { failed++; resolve(); return; }
      open++; resolve();
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\\n\\n')) >= 0) {
          const frame = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const data = frame.split('\\n').find((line) => line.startsWith('data: '));
          if (!data) continue;
          received++;
          latencies.push(Date.now() - Date.parse(JSON.parse(data.slice(6)).created_at));
        }
      });
    });
    request.on('error', () => { failed++; resolve(); });
  });
}
(async () => {
  for (let i = 0; i < count; i += 200) await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, j) => openOne(i + j)));
  process.send({ kind: 'opened', open, failed });
  process.on('message', (message) => {
    if (message === 'report') {
      process.send({ kind: 'report', open, failed, received, latencies });
    }
  });
})();
`;

async function benchBackend(label: string, databaseUrl: string | undefined): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-bench-'));
  const adminToken = `bench-${uuidv7()}`;
  const { app, database, baseUrl } = await startServer({ GLOW_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, GLOW_ADMIN_TOKEN: adminToken, GLOW_WORKERS: 8 });
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const trigger = () => fetch(`${baseUrl}/persona/generate`, { method: 'POST', headers, body: JSON.stringify({ instructions: ['A passive student who starts every reply with Uh...'] }) });
  const health = () => fetch(`${baseUrl}/health`);
  const search = () => fetch(`${baseUrl}/persona/search`, { method: 'POST', headers, body: JSON.stringify({ page_limit: 1 }) });
  const terminalRuns = async () =>
    Number((await database.db.selectFrom('generation_runs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', 'in', ['completed', 'error', 'cancelled']).executeTakeFirstOrThrow()).n);
  const allRuns = async () => Number((await database.db.selectFrom('generation_runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const waitForAllRuns = async () => {
    const total = await allRuns();
    while ((await terminalRuns()) < total) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  console.log(`\n--- ${label} (${database.location})`);
  // Warm-up: JIT, connection pools, pg-boss queue.
  await concurrently(20, trigger);
  await concurrently(20, health);
  await waitForAllRuns();

  // Trigger latency.
  const healthLatencies = await concurrently(TRIGGER_CONCURRENCY, health);
  const searchLatencies = await concurrently(TRIGGER_CONCURRENCY, search);
  const triggerLatencies = await concurrently(TRIGGER_CONCURRENCY, trigger);
  const p = (values: number[]) => `p50 ${ms(percentile(values, 50))}  p95 ${ms(percentile(values, 95))}  p99 ${ms(percentile(values, 99))}`;
  console.log(`trigger latency, ${TRIGGER_CONCURRENCY} concurrent:  ${p(triggerLatencies)}   (target p99 <= 25 ms)`);
  console.log(`  reference GET /health, same load:   ${p(healthLatencies)}   ratio p99 ${(percentile(triggerLatencies, 99) / percentile(healthLatencies, 99)).toFixed(1)}x`);
  console.log(`  reference POST /persona/search:     ${p(searchLatencies)}   ratio p99 ${(percentile(triggerLatencies, 99) / percentile(searchLatencies, 99)).toFixed(1)}x`);
  await waitForAllRuns();

  // Completed offline runs per second: the runs of a burst of triggers, from the first trigger to the last terminal.
  const start = performance.now();
  for (let sent = 0; sent < RUNS_FOR_THROUGHPUT; sent += 50) await concurrently(50, trigger);
  await waitForAllRuns();
  const seconds = (performance.now() - start) / 1000;
  const rawInsert = performance.now();
  for (let i = 0; i < 200; i += 1) await database.executeSql('SELECT 1');
  const roundTrip = (performance.now() - rawInsert) / 200;
  console.log(`completed offline runs: ${(RUNS_FOR_THROUGHPUT / seconds).toFixed(0)}/s (${RUNS_FOR_THROUGHPUT} runs in ${seconds.toFixed(2)} s, 8 workers)   (target >= 200/s)`);
  console.log(`  reference: one database round trip ${ms(roundTrip)}; a run costs ~${((seconds * 1000) / RUNS_FOR_THROUGHPUT / roundTrip).toFixed(0)} round trips of wall time`);

  // SSE fan-out.
  const org = await database.db.selectFrom('orgs').select('id').where('name', '=', 'default').executeTakeFirstOrThrow();
  const admin = await database.db.selectFrom('api_tokens').select(['profile_id', 'id']).where('org_id', '=', org.id).executeTakeFirstOrThrow();
  const groups = Array.from({ length: WATCHER_GROUPS }, () => uuidv7());
  await database.db
    .insertInto('generation_groups')
    .values(groups.map((id) => ({ id, org_id: org.id, artifact_type: 'persona', profile_id: admin.profile_id, session_id: admin.id, name: 'bench' })))
    .execute();
  gc();
  await new Promise((resolve) => setTimeout(resolve, 500));
  gc();
  const rssBefore = process.memoryUsage().rss;
  const scriptPath = path.join(dataDir, 'watchers.cjs');
  writeFileSync(scriptPath, WATCHER_SCRIPT);
  const child = spawn(process.execPath, [scriptPath, baseUrl, adminToken, JSON.stringify(groups), String(WATCHERS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nextMessage = () => new Promise<any>((resolve) => child.once('message', resolve));
  const opened = await nextMessage();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  gc();
  await new Promise((resolve) => setTimeout(resolve, 500));
  gc();
  const rssIdle = process.memoryUsage().rss;
  const perStream = opened.open > 0 ? (rssIdle - rssBefore) / opened.open / 1024 : NaN;
  console.log(`SSE watchers open: ${opened.open} of ${WATCHERS} (${opened.failed} failed) on ${WATCHER_GROUPS} groups`);
  console.log(`  RSS per idle stream: ${perStream.toFixed(1)} KB   (target <= 24 KB)`);

  const fakeRun = uuidv7();
  const publishStart = performance.now();
  const total = EVENTS_PER_SECOND * PUBLISH_SECONDS;
  let published = 0;
  while (published < total) {
    const due = Math.min(total, Math.floor(((performance.now() - publishStart) / 1000) * EVENTS_PER_SECOND) + 1);
    const batch: Promise<unknown>[] = [];
    for (; published < due; published += 1) {
      const groupId = groups[published % groups.length]!;
      const event = errorEvent({ orgId: org.id, groupId, runId: fakeRun, artifactType: 'persona' }, 'persona', fakeRun, 'bench event');
      batch.push(database.db.transaction().execute((trx) => appendEvents(database, trx, [event])));
    }
    await Promise.all(batch);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const publishSeconds = (performance.now() - publishStart) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  child.send('report');
  const report = await nextMessage();
  const expected = total * (WATCHERS / WATCHER_GROUPS);
  console.log(`fan-out: published ${total} events in ${publishSeconds.toFixed(2)} s (${(total / publishSeconds).toFixed(0)}/s asked ${EVENTS_PER_SECOND}/s); frames received ${report.received} of ${Math.round((expected * opened.open) / WATCHERS)}`);
  console.log(`  publish->receive: p50 ${ms(percentile(report.latencies, 50))}  p99 ${ms(percentile(report.latencies, 99))}   (target p99 <= 250 ms)`);
  child.kill();
  await app.close();
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}

async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

await benchBackend('PGlite', undefined);
const postgresUrl = process.env.GLOW_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL;
if (await postgresReachable(postgresUrl)) {
  const scratch = await createScratchDatabase(postgresUrl);
  try {
    await benchBackend('PostgreSQL', scratch.url);
  } finally {
    await scratch.drop();
  }
} else {
  console.log(`\n(PostgreSQL at ${postgresUrl} not reachable: skipped)`);
}
process.exit(0);
