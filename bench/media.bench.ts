// Media benchmarks (prints figures, asserts nothing):
//   1. 64 concurrent ranged readers of a 100 MB upload: MB/s and server RSS growth, beside nginx serving the same file.
//   2. A 1 GB upload: MB/s beside `cp` of the same file on the same disk, and server RSS growth.
//   3. PDF first-page previews: p50/p95 of first renders beside `pdftoppm`, and of cached previews.
// The Glow server runs in its own process (`tsx src/main.ts`), so the load generator's memory never
// counts as the server's. nginx and pdftoppm are installed with apt-get when missing and reachable.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { tinyPdf } from '../test/fixtures/media-files.ts';

const root = path.resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;
const READERS = 64;
const RANGE_BYTES = 4 * MiB;
const RANGES_PER_READER = 12;
const TARGET_MBPS = 500;
const TARGET_RSS_GROWTH_MIB = 64;

const workDir = mkdtempSync(path.join(os.tmpdir(), 'glow-media-bench-'));
const children: ChildProcess[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: READERS });

/** Stops the servers this bench started (and waits for them, so none writes to a closed pipe), then removes the work folder. */
async function cleanUp(): Promise<void> {
  await Promise.all(
    children
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map(async (child) => {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      }),
  );
  rmSync(workDir, { recursive: true, force: true });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Samples a process's RSS while `work` runs; returns the work's result and the peak growth over the start. */
async function withRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; growthMiB: number; baselineMiB: number }> {
  const baselineMiB = rssMiB(pid);
  let peak = baselineMiB;
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  try {
    const result = await work();
    peak = Math.max(peak, rssMiB(pid));
    return { result, growthMiB: peak - baselineMiB, baselineMiB };
  } finally {
    clearInterval(timer);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const fmt = (value: number, digits = 0) => value.toFixed(digits);

function tryInstall(command: string, aptPackage: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status === 0) return true;
  if (process.getuid?.() !== 0) return false;
  process.stdout.write(`  (installing ${aptPackage} with apt-get for the comparison...)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 180_000 });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', aptPackage], { stdio: 'ignore', env, timeout: 300_000 });
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

async function startGlow(): Promise<{ url: string; pid: number; dataDir: string; token: string }> {
  const dataDir = path.join(workDir, 'glow');
  const token = `bench-${randomUUID()}`;
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env: { ...process.env, GLOW_DATA_DIR: dataDir, PORT: '0', GLOW_ADMIN_TOKEN: token, GLOW_LOG_LEVEL: 'silent', GLOW_MAX_UPLOAD_BYTES: String(2 * 1024 * MiB), GLOW_WORKERS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  // Keep reading stdout after the banner (a for-await loop would destroy the pipe on return and the
  // server's shutdown message would then hit EPIPE).
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`Glow did not start: ${output}`)));
  });
  // `tsx` runs the server as its own child: measure that node process, not the tsx wrapper.
  const serverPid = Number(execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n')[0]) || child.pid!;
  return { url, pid: serverPid, dataDir, token };
}

/** Streams a file as one multipart upload without holding it in memory; returns the JSON answer. */
async function uploadFile(url: string, token: string, route: string, file: string, type: string): Promise<any> {
  const boundary = `----glowbench${randomUUID()}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const target = new URL(route, url);
  const request = http.request(target, {
    method: 'POST',
    agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + statSync(file).size + tail.length) },
  });
  const answer = once(request, 'response');
  request.write(head);
  const source = createReadStream(file, { highWaterMark: MiB });
  source.pipe(request, { end: false });
  await once(source, 'end');
  request.end(tail);
  const [response] = (await answer) as [http.IncomingMessage];
  let body = '';
  for await (const chunk of response) body += chunk;
  if (response.statusCode !== 200) throw new Error(`upload failed: ${response.statusCode} ${body}`);
  return JSON.parse(body);
}

/** One request; counts the body's bytes without keeping them. */
function fetchCounting(options: http.RequestOptions & { url: string; body?: string }): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const request = http.request(options.url, { ...options, agent }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

async function rangedReaders(size: number, fetchRange: (start: number, end: number) => Promise<{ status: number; bytes: number }>): Promise<{ mbps: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let total = 0;
  await Promise.all(
    Array.from({ length: READERS }, async (_, reader) => {
      for (let index = 0; index < RANGES_PER_READER; index += 1) {
        const start = ((reader * 7919 + index * 104729) * 4096) % (size - RANGE_BYTES);
        const { status, bytes } = await fetchRange(start, start + RANGE_BYTES - 1);
        if (status !== 206 || bytes !== RANGE_BYTES) throw new Error(`bad ranged read: ${status}, ${bytes} bytes`);
        total += bytes;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { mbps: total / 1e6 / seconds, seconds };
}

async function startNginx(folder: string): Promise<{ url: string; pid: number } | undefined> {
  if (!tryInstall('nginx', 'nginx')) return undefined;
  const nginxDir = path.join(workDir, 'nginx');
  mkdirSync(nginxDir, { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const config = [
    'worker_processes 1;',
    'daemon off;',
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${nginxDir}/nginx.pid;`,
    `error_log ${nginxDir}/error.log;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    '  sendfile on;',
    `  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy; fastcgi_temp_path ${nginxDir}/fastcgi; uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;`,
    `  server { listen 127.0.0.1:${port}; root ${folder}; location / { } }`,
    '}',
  ].join('\n');
  writeFileSync(path.join(nginxDir, 'nginx.conf'), config);
  const child = spawn('nginx', ['-c', path.join(nginxDir, 'nginx.conf'), '-p', nginxDir], { stdio: 'ignore' });
  children.push(child);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      await fetchCounting({ url: `http://127.0.0.1:${port}/`, method: 'GET' });
      // The worker (child of the master) serves the bytes; measure it.
      const workerPid = Number(execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n')[0]) || child.pid!;
      return { url: `http://127.0.0.1:${port}`, pid: workerPid };
    } catch {
      // not up yet
    }
  }
  return undefined;
}

function writeRandomFile(file: string, bytes: number): Promise<void> {
  const block = randomBytes(4 * MiB);
  const out = createWriteStream(file);
  return new Promise((resolve, reject) => {
    let written = 0;
    const writeMore = () => {
      while (written < bytes) {
        const slice = block.subarray(0, Math.min(block.length, bytes - written));
        // Vary each block so no two are identical.
        slice.writeUInt32LE(written / block.length, 0);
        written += slice.length;
        if (!out.write(Buffer.from(slice))) return void out.once('drain', writeMore);
      }
      out.end(resolve);
    };
    out.on('error', reject);
    writeMore();
  });
}

async function main(): Promise<void> {
  const glow = await startGlow();
  process.stdout.write(`Glow server pid ${glow.pid} at ${glow.url}; work folder ${workDir}\n\n`);

  // 1. Ranged readers.
  const hundredMb = path.join(workDir, '100mb.bin');
  await writeRandomFile(hundredMb, 100 * 1000 * 1000);
  const uploaded = await uploadFile(glow.url, glow.token, '/document/file_upload', hundredMb, 'application/octet-stream');
  rmSync(hundredMb);
  const size = 100 * 1000 * 1000;
  const glowRead = (start: number, end: number) =>
    fetchCounting({
      url: `${glow.url}/system/file_download`,
      method: 'POST',
      headers: { authorization: `Bearer ${glow.token}`, 'content-type': 'application/json', range: `bytes=${start}-${end}` },
      body: JSON.stringify({ file_id: uploaded.upload_id }),
    });
  await rangedReaders(size, glowRead); // warm-up: page cache, JIT, connections
  const glowReaders = await withRss(glow.pid, () => rangedReaders(size, glowRead));

  const blobsDir = path.join(glow.dataDir, 'media', 'blobs');
  const nginx = await startNginx(blobsDir);
  let nginxLine = 'nginx: not available (not installed and apt-get could not install it)';
  let ratioLine = '';
  if (nginx) {
    const sha = execFileSync('find', [blobsDir, '-type', 'f']).toString().trim().split('\n').find((file) => statSync(file).size === size)!;
    const relative = path.relative(blobsDir, sha);
    const nginxRead = (start: number, end: number) => fetchCounting({ url: `${nginx.url}/${relative}`, method: 'GET', headers: { range: `bytes=${start}-${end}` } });
    await rangedReaders(size, nginxRead);
    const nginxReaders = await withRss(nginx.pid, () => rangedReaders(size, nginxRead));
    nginxLine = `nginx (1 worker, sendfile): ${fmt(nginxReaders.result.mbps)} MB/s, worker RSS growth ${fmt(nginxReaders.growthMiB, 1)} MiB`;
    ratioLine = `Glow / nginx: ${fmt(glowReaders.result.mbps / nginxReaders.result.mbps, 2)}x   (target >= 0.5x)`;
  }
  process.stdout.write(`1. ${READERS} concurrent readers x ${RANGES_PER_READER} ranges of ${RANGE_BYTES / MiB} MiB from a 100 MB file\n`);
  process.stdout.write(`   Glow: ${fmt(glowReaders.result.mbps)} MB/s (target >= ${TARGET_MBPS}), RSS growth ${fmt(glowReaders.growthMiB, 1)} MiB over ${fmt(glowReaders.baselineMiB)} MiB (target < ${TARGET_RSS_GROWTH_MIB})\n`);
  process.stdout.write(`   ${nginxLine}\n${ratioLine ? `   ${ratioLine}\n` : ''}\n`);

  // 2. 1 GB upload against cp.
  const gigabyte = path.join(workDir, '1gb.bin');
  await writeRandomFile(gigabyte, 1000 * 1000 * 1000);
  const copy = path.join(workDir, '1gb-copy.bin');
  spawnSync('sync');
  let started = process.hrtime.bigint();
  execFileSync('cp', [gigabyte, copy]);
  const cpSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(copy);
  spawnSync('sync');
  started = process.hrtime.bigint();
  const upload = await withRss(glow.pid, () => uploadFile(glow.url, glow.token, '/document/file_upload', gigabyte, 'application/octet-stream'));
  const uploadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(gigabyte);
  process.stdout.write('2. 1 GB upload (multipart, streamed to storage while hashed)\n');
  process.stdout.write(`   Glow: ${fmt(1000 / uploadSeconds)} MB/s (${fmt(uploadSeconds, 2)} s), RSS growth ${fmt(upload.growthMiB, 1)} MiB (target < ${TARGET_RSS_GROWTH_MIB})\n`);
  process.stdout.write(`   cp of the same file on the same disk: ${fmt(1000 / cpSeconds)} MB/s (${fmt(cpSeconds, 2)} s); Glow / cp: ${fmt(cpSeconds / uploadSeconds, 2)}x\n\n`);

  // 3. PDF previews.
  const pdfDir = path.join(workDir, 'pdfs');
  mkdirSync(pdfDir);
  const files: string[] = [];
  for (let index = 0; index < 20; index += 1) {
    const file = path.join(pdfDir, `doc-${index}.pdf`);
    writeFileSync(file, tinyPdf(`Benchmark document ${index}: ${'lorem ipsum '.repeat(index % 5)}`));
    files.push(file);
  }
  const ids: string[] = [];
  for (const file of files) ids.push((await uploadFile(glow.url, glow.token, '/document/file_upload', file, 'application/pdf')).upload_id);
  const preview = async (id: string) => {
    const begin = process.hrtime.bigint();
    const { status } = await fetchCounting({
      url: `${glow.url}/document/file_preview`,
      method: 'POST',
      headers: { authorization: `Bearer ${glow.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file_id: id }),
    });
    if (status !== 200) throw new Error(`preview failed: ${status}`);
    return Number(process.hrtime.bigint() - begin) / 1e6;
  };
  const firstRenders: number[] = [];
  for (const id of ids) firstRenders.push(await preview(id));
  const cached: number[] = [];
  for (let round = 0; round < 5; round += 1) for (const id of ids) cached.push(await preview(id));
  process.stdout.write(`3. PDF first-page preview (${ids.length} generated one-page PDFs, 1024 px wide)\n`);
  process.stdout.write(`   Glow first render: p50 ${fmt(percentile(firstRenders, 50))} ms, p95 ${fmt(percentile(firstRenders, 95))} ms (the first includes starting the render worker: ${fmt(firstRenders[0]!)} ms)\n`);
  process.stdout.write(`   Glow cached: p50 ${fmt(percentile(cached, 50), 1)} ms, p95 ${fmt(percentile(cached, 95), 1)} ms\n`);
  if (tryInstall('pdftoppm', 'poppler-utils')) {
    const times: number[] = [];
    for (const file of files) {
      const begin = process.hrtime.bigint();
      execFileSync('pdftoppm', ['-png', '-f', '1', '-l', '1', '-scale-to-x', '1024', '-scale-to-y', '-1', file, path.join(pdfDir, 'out')]);
      times.push(Number(process.hrtime.bigint() - begin) / 1e6);
    }
    process.stdout.write(`   pdftoppm (process per file): p50 ${fmt(percentile(times, 50))} ms, p95 ${fmt(percentile(times, 95))} ms\n`);
  } else {
    process.stdout.write('   pdftoppm: not available (not installed and apt-get could not install poppler-utils)\n');
  }
}

main()
  .catch((error) => {
    process.stderr.write(`media bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    agent.destroy();
    await cleanUp();
  });
