// Generation benchmarks (figures printed beside the issue's targets, nothing asserted): trigger
// latency under 200 concurrent triggers, completed offline runs per second, and SSE fan-out to many
// watchers. The server runs in this process; every HTTP client (triggers, references, watchers)
// runs in a child process, so client CPU never shows up as server latency and the server's RSS is
// its own. Runs on PGlite, and on PostgreSQL too when one is reachable (GLOW_TEST_DATABASE_URL or the default).
//
// GLOW_BENCH_WORKERS (default 8): run slots; 0 measures triggers alone, with no run executing beside them.
// GLOW_BENCH_BURSTS (default 20): measured bursts of each kind (percentiles are over all of them, and each burst's p99 is shown too).
// GLOW_BENCH_WATCHERS (default 10000), GLOW_BENCH_ONLY=pglite|postgres, GLOW_BENCH_PHASES=trigger,runs,fanout (default all).
// GLOW_BENCH_PROFILE=<dir>: writes a CPU profile of the server process for each measured phase (not the warm-up).
// GLOW_BENCH_EVENTS_PER_SECOND (default 1000): the fan-out publish rate, e.g. below what the backend commits alone, to
// see the fan-out's own latency rather than the publisher's backlog (created_at is stamped when an event is made).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { constants as perfConstants, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import path from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { errorEvent } from '../src/generation/events.ts';
import { countUnfinishedRuns } from '../src/generation/store.ts';
import type { Database } from '../src/db/database.ts';
import { appendEvents } from '../src/streaming/event-log.ts';
import { createScratchDatabase, DEFAULT_POSTGRES_URL, startServer } from '../test/support/harness.ts';

const TRIGGER_CONCURRENCY = 200;
const SESSIONS = 200;
const RUNS_FOR_THROUGHPUT = 1000;
const THROUGHPUT_CONCURRENCY = 100;
const WORKERS = Number(process.env.GLOW_BENCH_WORKERS ?? 8);
const WATCHERS = Number(process.env.GLOW_BENCH_WATCHERS ?? 10_000);
const WATCHER_GROUPS = Math.max(1, Math.floor(WATCHERS / 10));
const EVENTS_PER_SECOND = Number(process.env.GLOW_BENCH_EVENTS_PER_SECOND ?? 1000);
const PUBLISH_SECONDS = 5;
const ONLY = process.env.GLOW_BENCH_ONLY;
const PROFILE_DIR = process.env.GLOW_BENCH_PROFILE;
const BURSTS = Number(process.env.GLOW_BENCH_BURSTS ?? 20);
const TRIGGER_P99_TARGET_MS = 25;
const WARMUP_BURSTS = 10;
const PHASES = new Set((process.env.GLOW_BENCH_PHASES ?? 'trigger,runs,fanout').split(','));

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const p = (values: number[]) => `p50 ${ms(percentile(values, 50))}  p95 ${ms(percentile(values, 95))}  p99 ${ms(percentile(values, 99))}`;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (delay: number) => new Promise((resolve) => setTimeout(resolve, delay));

/**
 * CPU time (ms) from /proc, where the machine has it: the whole machine's busy time, and that of
 * the given processes (PostgreSQL's: every process of that name on this machine). On 2 CPUs a burst cannot end sooner than the CPU it needs, spread over both:
 * this shows how much of it is the server's, the database's (PostgreSQL's own processes) and the
 * load client's.
 */
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux
function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + (fields[7] ?? 0);
    return busy * CLOCK_TICK_MS;
  } catch {
    return NaN;
  }
}
function processCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // The process ended between the listing and the read: its time is lost, as the listing's.
    }
  }
  return ticks * CLOCK_TICK_MS;
}
function postgresPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'latin1').trim() === 'postgres';
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** With GLOW_BENCH_PROFILE set, profiles this process while `phase` runs and writes <dir>/<label>-<phase>.cpuprofile. */
async function profiled<T>(label: string, phase: string, body: () => Promise<T>): Promise<T> {
  if (!PROFILE_DIR) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path.join(PROFILE_DIR, `${label}-${phase}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/**
 * The load generator, as wrk does it: keep-alive connections opened beforehand (as a busy client's
 * would be), every request serialized beforehand, then one write per connection in a tight loop,
 * each request timed from its own write to the last byte of its response. A general HTTP client
 * (node:http, undici) spends milliseconds of its own per burst of 200 on these 2 CPUs, and that
 * time would be counted as the server's. Responses are read by their Content-Length, which every
 * response measured here carries (anything else fails the burst).
 */
const LOAD_SCRIPT = `
const net = require('node:net');
// Idle keep-alive connections per server: a connection carries one request at a time, so bursts
// in flight together (the runs phase sends two) each get connections of their own.
const idle = new Map();
async function acquire(base, count) {
  const url = new URL(base);
  let free = idle.get(base);
  if (!free) idle.set(base, (free = []));
  const taken = free.splice(0, count);
  while (taken.length < count) {
    taken.push(await new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => resolve(socket));
      socket.setNoDelay(true);
      socket.on('error', reject);
    }));
  }
  return taken;
}
function serialize(base, request) {
  const body = request.body === undefined ? '' : JSON.stringify(request.body);
  const headers = { host: new URL(base).host, ...(request.headers || {}) };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  headers['content-length'] = Buffer.byteLength(body);
  const head = Object.entries(headers).map(([name, value]) => name + ': ' + value + '\\r\\n').join('');
  return Buffer.from(request.method + ' ' + request.path + ' HTTP/1.1\\r\\n' + head + '\\r\\n' + body);
}
/** Resolves with the response's status once all of it arrived on the socket. */
function response(socket) {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      const headEnd = buffer.indexOf('\\r\\n\\r\\n');
      if (headEnd < 0) return;
      const head = buffer.subarray(0, headEnd).toString('latin1');
      const length = /\\r\\ncontent-length: *(\\d+)/i.exec(head);
      const status = Number(head.slice(9, 12));
      if (!length) { socket.off('data', onData); resolve({ status: 0, error: 'response without content-length: ' + head.split('\\r\\n')[0] }); return; }
      if (buffer.length < headEnd + 4 + Number(length[1])) return;
      socket.off('data', onData);
      resolve({ status });
    };
    socket.on('data', onData);
  });
}
process.on('message', async (message) => {
  const sockets = await acquire(message.base, message.requests.length);
  const payloads = message.requests.map((request) => serialize(message.base, request));
  const pending = [];
  for (let i = 0; i < sockets.length; i += 1) {
    const done = response(sockets[i]);
    const start = performance.now();
    sockets[i].write(payloads[i]);
    pending.push(done.then((result) => ({ ...result, ms: performance.now() - start })));
  }
  const results = await Promise.all(pending);
  idle.get(message.base).push(...sockets);
  process.send({ id: message.id, results });
});
`;

/** Opens `count` watch streams (one socket each), and reports publish->receive latencies when asked. */
const WATCHER_SCRIPT = `
const http = require('node:http');
const [url, token, groups, count] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4]), Number(process.argv[5])];
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const latencies = [];
let open = 0, received = 0, failed = 0, closed = 0;
function openOne(i) {
  return new Promise((resolve) => {
    const request = http.get(url + '/persona/watch?group_id=' + groups[i % groups.length], { agent, headers: { authorization: 'Bearer ' + token } }, (response) => {
      if (response.statusCode !== 200) { failed++; response.resume(); resolve(); return; }
      open++; resolve();
      let buffer = '';
      response.setEncoding('utf8');
      response.on('end', () => closed++);
      response.on('data', (chunk) => {
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\\n\\n')) >= 0) {
          const frame = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const at = frame.indexOf('"created_at":"');
          if (at < 0) continue;
          received++;
          latencies.push(Date.now() - Date.parse(frame.slice(at + 14, frame.indexOf('"', at + 14))));
        }
      });
    });
    request.on('error', () => { failed++; resolve(); });
  });
}
(async () => {
  for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => openOne(i + j)));
  process.send({ kind: 'opened', open, failed });
  process.on('message', (message) => {
    if (message === 'report') process.send({ kind: 'report', open, failed, received, closed, latencies });
  });
})();
`;

interface Request {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

class LoadClient {
  private nextId = 0;
  private readonly waiting = new Map<number, (results: { ms: number; status: number; error?: string }[]) => void>();

  constructor(
    private readonly child: ChildProcess,
    private readonly base: string,
  ) {
    child.on('message', (message: any) => {
      this.waiting.get(message.id)?.(message.results);
      this.waiting.delete(message.id);
    });
  }

  /** Sends every request at once (to `base`, by default the server's); resolves with their latencies (ms), throwing on any non-2xx. */
  async burst(requests: Request[], base = this.base): Promise<number[]> {
    const id = this.nextId++;
    const results = await new Promise<{ ms: number; status: number; error?: string }[]>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, base, requests });
    });
    const bad = results.find((result) => result.status < 200 || result.status >= 300);
    if (bad) throw new Error(`request failed: ${bad.status} ${bad.error ?? ''}`);
    return results.map((result) => result.ms);
  }
}

/**
 * The floor for a durable trigger on this machine, as a reference: bare node:http (no framework,
 * no auth, no validation), and the requests that arrive together committed by one INSERT into
 * bench_raw (which the caller made).
 */
async function startBareWriteServer(database: Database): Promise<{ url: string; close(): Promise<void> }> {
  let pending: { id: string; respond: () => void }[] = [];
  let flushing = false;
  const flush = async () => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      await database.executeSql('INSERT INTO bench_raw (id) SELECT unnest($1::uuid[])', [batch.map((item) => item.id)]);
      for (const item of batch) item.respond();
    }
    flushing = false;
  };
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      JSON.parse(body);
      const id = uuidv7();
      pending.push({
        id,
        respond: () => {
          const body = JSON.stringify({ run_id: id });
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          response.end(body);
        },
      });
      if (!flushing) {
        flushing = true;
        setImmediate(() => void flush());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function benchBackend(label: string, databaseUrl: string | undefined): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-bench-'));
  const adminToken = `bench-${uuidv7()}`;
  const { app, database, baseUrl } = await startServer({ GLOW_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, GLOW_ADMIN_TOKEN: adminToken, GLOW_WORKERS: WORKERS });
  const loadPath = path.join(dataDir, 'load.cjs');
  writeFileSync(loadPath, LOAD_SCRIPT);
  const loadChild = spawn(process.execPath, [loadPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const load = new LoadClient(loadChild, baseUrl);
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const triggerRequest = (token: string): Request => ({
    method: 'POST',
    path: '/persona/generate',
    headers: auth(token),
    body: { instructions: ['A passive student who starts every reply with Uh...'] },
  });
  // Counted through the partial index of unfinished runs: a count of the finished ones grows with
  // every run and, polled every 50 ms, would be a few percent of PGlite's time in the runs phase.
  const unfinishedRuns = () => countUnfinishedRuns(database.db);
  const waitForAllRuns = async () => {
    if (WORKERS === 0) return; // triggers only: nothing takes the runs
    while ((await unfinishedRuns()) > 0) await sleep(50);
  };

  // A single-row INSERT's round trip, timed: the database's own floor, beside the figures.
  await database.executeSql('CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY)');
  const timedRawInsert = async () => {
    const start = performance.now();
    await database.executeSql('INSERT INTO bench_raw (id) VALUES ($1)', [uuidv7()]);
    return performance.now() - start;
  };
  const serialRawInserts = async () => {
    const inserts: number[] = [];
    for (let i = 0; i < 200; i += 1) inserts.push(await timedRawInsert());
    return inserts;
  };

  console.log(`\n--- ${label} (${database.location}; ${os.cpus().length} CPUs; clients in child processes)`);
  // Sessions: one token each (the group window is per profile and session).
  const tokens: string[] = [];
  const admin = await database.db.selectFrom('api_tokens').select('profile_id').executeTakeFirstOrThrow();
  for (let i = 0; i < SESSIONS; i += 1) {
    const response = await fetch(`${baseUrl}/auth/create`, {
      method: 'POST',
      headers: { ...auth(adminToken), 'content-type': 'application/json' },
      body: JSON.stringify({ profile_id: admin.profile_id, name: `bench ${i}` }),
    });
    if (!response.ok) throw new Error(`auth/create: ${response.status} ${await response.text()}`);
    tokens.push(((await response.json()) as { token: string }).token);
  }
  const many = (count: number) => Array.from({ length: count }, (_, i) => triggerRequest(tokens[i % tokens.length]!));
  const single = (count: number) => Array.from({ length: count }, () => triggerRequest(adminToken));
  const health = (count: number): Request[] => Array.from({ length: count }, () => ({ method: 'GET', path: '/health' }));

  // Garbage collection pauses on the server's thread, to tell a burst slowed by a collection from one
  // slowed by something else on the machine.
  const gcPauses: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcPauses.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const isMajorGc = (entry: PerformanceEntry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR;

  // The server's own view of the bursts, beside the client's: each request from its headers parsed to
  // its response written (the difference is queueing in the client and sockets on the shared
  // CPUs), and the main thread's busy time per request.
  const repeated = async (burst: () => Promise<number[]>, between: () => Promise<void> = async () => {}) => {
    const client: number[] = [];
    const burstP99: number[] = [];
    const burstGc: { pauseMs: number; major: number }[] = [];
    const server: number[] = [];
    let busy = 0;
    const cpu = { server: 0, database: 0, client: 0, machine: 0 };
    let databaseSeen = false;
    const onRequest = (_request: unknown, response: { on(event: 'finish', listener: () => void): void }) => {
      const begin = performance.now();
      response.on('finish', () => server.push(performance.now() - begin));
    };
    app.http.server.on('request', onRequest);
    try {
      for (let round = 0; round < BURSTS; round += 1) {
        // Listed anew for each burst: the pools open and recycle backends as they go.
        const databasePids = databaseUrl ? postgresPids() : [];
        databaseSeen ||= databasePids.length > 0;
        const loopBefore = performance.eventLoopUtilization();
        const serverBefore = process.cpuUsage();
        const [machineBefore, databaseBefore, clientBefore] = [machineBusyMs(), processCpuMs(databasePids), processCpuMs([loadChild.pid!])];
        const gcBefore = gcPauses.length;
        const latencies = await burst();
        const pauses = gcPauses.slice(gcBefore);
        burstGc.push({ pauseMs: pauses.reduce((sum, entry) => sum + entry.duration, 0), major: pauses.filter(isMajorGc).length });
        busy += performance.eventLoopUtilization(loopBefore).active;
        const serverCpu = process.cpuUsage(serverBefore);
        cpu.server += (serverCpu.user + serverCpu.system) / 1000;
        cpu.machine += machineBusyMs() - machineBefore;
        cpu.database += processCpuMs(databasePids) - databaseBefore;
        cpu.client += processCpuMs([loadChild.pid!]) - clientBefore;
        client.push(...latencies);
        burstP99.push(percentile(latencies, 99));
        await between();
      }
    } finally {
      app.http.server.off('request', onRequest);
    }
    const perRequest = (total: number) => (total * 1000) / client.length;
    // A database on another machine has no processes here: its CPU is not known (NaN), not 0.
    const cpuPerRequest = { server: perRequest(cpu.server), database: databaseSeen ? perRequest(cpu.database) : NaN, client: perRequest(cpu.client), machine: perRequest(cpu.machine) };
    return { client, burstP99, burstGc, server, busyPerRequest: busy / client.length, cpuPerRequest };
  };
  // Where a burst's CPU goes, and the shortest a burst can take with it spread over every CPU.
  const cpuLine = (run: { cpuPerRequest: Record<'server' | 'database' | 'client' | 'machine', number> }, what: string) => {
    const { server, database: databaseCpu, client, machine } = run.cpuPerRequest;
    const floor = (machine * TRIGGER_CONCURRENCY) / 1000 / os.cpus().length;
    return `CPU per ${what}: server ${server.toFixed(0)} µs, ${databaseUrl ? `PostgreSQL ${Number.isNaN(databaseCpu) ? 'n/a (not on this machine)' : `${databaseCpu.toFixed(0)} µs`}, ` : ''}load client ${client.toFixed(0)} µs, whole machine ${machine.toFixed(0)} µs;  a burst's CPU spread over ${os.cpus().length} CPUs: ${ms(floor)}`;
  };
  const spread = (run: { burstP99: number[] }) =>
    `per-burst p99: median ${ms(percentile(run.burstP99, 50))}, best ${ms(Math.min(...run.burstP99))}, worst ${ms(Math.max(...run.burstP99))}`;
  // The p99 over all triggers is set by the worst bursts: say how many of them missed the target.
  const overTarget = (run: { burstP99: number[] }) => `, ${run.burstP99.filter((value) => value > TRIGGER_P99_TARGET_MS).length} of ${run.burstP99.length} over ${TRIGGER_P99_TARGET_MS} ms`;
  async function measureReferences() {
    for (let round = 0; round < WARMUP_BURSTS; round += 1) await load.burst(health(TRIGGER_CONCURRENCY));
    const healthRun = await repeated(() => load.burst(health(TRIGGER_CONCURRENCY)));
    const bare = await startBareWriteServer(database);
    const bareTrigger = (): Request => ({ method: 'POST', path: '/', body: { instructions: ['A passive student who starts every reply with Uh...'] } });
    for (let round = 0; round < WARMUP_BURSTS; round += 1) await load.burst(Array.from({ length: TRIGGER_CONCURRENCY }, bareTrigger), bare.url);
    const bareRun = await repeated(() => load.burst(Array.from({ length: TRIGGER_CONCURRENCY }, bareTrigger), bare.url));
    await bare.close();
    const serialInserts = await serialRawInserts();
    const concurrentInserts = await Promise.all(Array.from({ length: TRIGGER_CONCURRENCY }, timedRawInsert));
    return { healthRun, bareRun, serialInserts, concurrentInserts };
  }

  // The references first, then the warm-up, then the measured bursts: the references run other code
  // in this process (a bare node:http server, raw INSERTs through the same driver), and measured right
  // before the triggers they left the first trigger burst 3-10 ms slower than the rest.
  const references = PHASES.has('trigger') ? await measureReferences() : undefined;

  // Warm-up: JIT, connections (client keep-alive sockets and pools), pg-boss queue, the groups.
  // Fewer rounds leave the first measured bursts visibly slower (code still being optimized).
  for (let round = 0; round < WARMUP_BURSTS; round += 1) {
    await load.burst(health(TRIGGER_CONCURRENCY));
    await load.burst(many(TRIGGER_CONCURRENCY));
    await load.burst(single(20));
    await waitForAllRuns();
  }

  // Trigger latency: the same burst shapes, repeated; the runs of each burst finish before the next.
  if (PHASES.has('trigger')) {
  const { healthRun, bareRun, serialInserts, concurrentInserts } = references!;
  const manySessions = await profiled(label, 'trigger', () => repeated(() => load.burst(many(TRIGGER_CONCURRENCY)), waitForAllRuns));
  const oneSession = await repeated(() => load.burst(single(TRIGGER_CONCURRENCY)), waitForAllRuns);
  console.log(`trigger latency, ${TRIGGER_CONCURRENCY} concurrent, ${SESSIONS} sessions, ${BURSTS} bursts:  ${p(manySessions.client)}   (target p99 <= ${TRIGGER_P99_TARGET_MS} ms)`);
  console.log(`  ${spread(manySessions)}${overTarget(manySessions)}`);
  console.log(`  each burst's p99 in order, ms: ${manySessions.burstP99.map((value) => value.toFixed(1)).join(' ')}`);
  console.log(`  the server thread's GC pauses in each burst, ms (* with a full collection): ${manySessions.burstGc.map(({ pauseMs, major }) => `${pauseMs.toFixed(1)}${major ? '*' : ''}`).join(' ')}`);
  console.log(`  the same, server-side: ${p(manySessions.server)};  main thread busy ${(manySessions.busyPerRequest * 1000).toFixed(0)} µs per trigger (runs executing beside them included)`);
  console.log(`trigger latency, ${TRIGGER_CONCURRENCY} concurrent, one session:  ${p(oneSession.client)};  ${spread(oneSession)}${overTarget(oneSession)}`);
  console.log(`  ${cpuLine(manySessions, 'trigger')}`);
  console.log(`  reference GET /health, ${TRIGGER_CONCURRENCY} concurrent:  ${p(healthRun.client)}   (server-side ${p(healthRun.server)})`);
  console.log(`  reference bare node:http + one group-committed INSERT, ${TRIGGER_CONCURRENCY} concurrent:  ${p(bareRun.client)};  ${spread(bareRun)};  main thread busy ${(bareRun.busyPerRequest * 1000).toFixed(0)} µs per request`);
  console.log(`    ${cpuLine(bareRun, 'request')}`);
  console.log(
    `  ratio trigger p99 / GET /health p99: ${(percentile(manySessions.client, 99) / percentile(healthRun.client, 99)).toFixed(2)};  / bare write p99: ${(percentile(manySessions.client, 99) / percentile(bareRun.client, 99)).toFixed(2)}`,
  );
  console.log(`  reference raw INSERT (in process): serial ${p(serialInserts)};  ${TRIGGER_CONCURRENCY} concurrent ${p(concurrentInserts)}`);
  }
  gcObserver.disconnect();

  // Completed offline runs per second: from the first trigger to the last terminal event.
  if (PHASES.has('runs')) {
  const insertP50 = percentile(await serialRawInserts(), 50);
  const start = performance.now();
  // Two bursts in flight at a time: a steady stream of triggers, not a thousand sockets at once.
  let sent = 0;
  const sender = async () => {
    while (sent < RUNS_FOR_THROUGHPUT) {
      sent += THROUGHPUT_CONCURRENCY;
      await load.burst(many(THROUGHPUT_CONCURRENCY));
    }
  };
  const triggeredSeconds = await profiled(label, 'runs', async () => {
    await Promise.all([sender(), sender()]);
    const triggered = (performance.now() - start) / 1000;
    await waitForAllRuns();
    return triggered;
  });
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `completed offline runs: ${(RUNS_FOR_THROUGHPUT / seconds).toFixed(0)}/s (${RUNS_FOR_THROUGHPUT} runs in ${seconds.toFixed(2)} s, all triggered after ${triggeredSeconds.toFixed(2)} s, ${WORKERS} workers)   (target >= 200/s)`,
  );
  console.log(`  reference: one INSERT round trip p50 ${ms(insertP50)}; a run costs ~${((seconds * 1000) / RUNS_FOR_THROUGHPUT / insertP50).toFixed(0)} of them in wall time`);
  // A run that ended in error is not a completed run: the figure above only counts if there are none.
  const byStatus = await database.db.selectFrom('generation_runs').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  const statuses = Object.fromEntries(byStatus.map((row) => [row.status, Number(row.n)]));
  console.log(`  every run so far by status: ${JSON.stringify(statuses)}`);
  if ((statuses.error ?? 0) + (statuses.cancelled ?? 0) > 0) throw new Error('some offline runs did not complete');
  }
  loadChild.kill();
  if (!PHASES.has('fanout')) {
    await app.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
    return;
  }

  // SSE fan-out.
  const org = await database.db.selectFrom('orgs').select('id').where('name', '=', 'default').executeTakeFirstOrThrow();
  const groups = Array.from({ length: WATCHER_GROUPS }, () => uuidv7());
  for (let i = 0; i < groups.length; i += 1000) {
    await database.db
      .insertInto('generation_groups')
      .values(groups.slice(i, i + 1000).map((id) => ({ id, org_id: org.id, artifact_type: 'persona', profile_id: admin.profile_id, session_id: admin.profile_id, name: 'bench' })))
      .execute();
  }
  gc();
  await sleep(500);
  gc();
  const { rss: rssBefore, heapUsed: heapBefore } = process.memoryUsage();
  const scriptPath = path.join(dataDir, 'watchers.cjs');
  writeFileSync(scriptPath, WATCHER_SCRIPT);
  const child = spawn(process.execPath, [scriptPath, baseUrl, adminToken, JSON.stringify(groups), String(WATCHERS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nextMessage = () => new Promise<any>((resolve) => child.once('message', resolve));
  const opened = await nextMessage();
  await sleep(1000);
  gc();
  await sleep(500);
  gc();
  const { rss: rssIdle, heapUsed: heapIdle } = process.memoryUsage();
  const perStream = opened.open > 0 ? (rssIdle - rssBefore) / opened.open / 1024 : NaN;
  // RSS also moves when the allocator hands back pages freed by the earlier phases (it can even fall): the JS heap's share is steadier.
  const heapPerStream = opened.open > 0 ? (heapIdle - heapBefore) / opened.open / 1024 : NaN;
  console.log(`SSE watchers open: ${opened.open} of ${WATCHERS} (${opened.failed} failed) on ${WATCHER_GROUPS} groups`);
  console.log(`  RSS per idle stream: ${perStream.toFixed(1)} KB   (target <= 24 KB);  JS heap per idle stream: ${heapPerStream.toFixed(1)} KB`);

  // Publishing: each event in its own statement (appendEvents is one statement: lock, insert,
  // notify), committed alone, paced at the asked rate.
  const fakeRun = uuidv7();
  const total = EVENTS_PER_SECOND * PUBLISH_SECONDS;
  let publishSeconds = 0;
  await profiled(label, 'fanout', async () => {
  const publishStart = performance.now();
  let published = 0;
  const inFlight = new Set<Promise<unknown>>();
  while (published < total) {
    const due = Math.min(total, Math.floor(((performance.now() - publishStart) / 1000) * EVENTS_PER_SECOND) + 1);
    for (; published < due; published += 1) {
      const groupId = groups[published % groups.length]!;
      const event = errorEvent({ orgId: org.id, groupId, runId: fakeRun, artifactType: 'persona' }, 'persona', fakeRun, 'bench event');
      const write: Promise<unknown> = appendEvents(database, database.db, [event]).finally(() => inFlight.delete(write));
      inFlight.add(write);
    }
    await sleep(2);
  }
  await Promise.all(inFlight);
  publishSeconds = (performance.now() - publishStart) / 1000;
  await sleep(2000);
  });
  child.send('report');
  const report = await nextMessage();
  const expected = Math.round(total * (opened.open / WATCHER_GROUPS));
  console.log(
    `fan-out: published ${total} events in ${publishSeconds.toFixed(2)} s (${(total / publishSeconds).toFixed(0)}/s, asked ${EVENTS_PER_SECOND}/s); frames received ${report.received} of ${expected}`,
  );
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

if (!ONLY) {
  // Each backend in a process of its own: the second one's RSS figures would otherwise start from
  // what the first one left behind (PGlite's WebAssembly heap).
  let failed = false;
  for (const backend of ['pglite', 'postgres']) {
    const result = spawnSync(process.execPath, [...process.execArgv, import.meta.filename], { stdio: 'inherit', env: { ...process.env, GLOW_BENCH_ONLY: backend } });
    if (result.status !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}
if (ONLY === 'pglite') await benchBackend('PGlite', undefined);
if (ONLY === 'postgres') {
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
}
process.exit(0);
