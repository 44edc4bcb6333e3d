// The cli suite: registers its tests when imported (see index.ts). Every test runs the real
// `bin/glow.js` as a subprocess against the harness's server, as a user would.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import ffmpeg from '@ffmpeg-installer/ffmpeg';
import sharp from 'sharp';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { parseArgs, requestBody } from '../../src/cli/args.ts';
import { NOUNS, typeNamed } from '../../src/cli/nouns.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { getHarness, type Harness, type TestOrg } from '../support/harness.ts';
import { configureFakeModels } from '../support/fake-models.ts';

const execFileAsync = promisify(execFile);
const GLOW_BIN = path.resolve(import.meta.dirname, '../../bin/glow.js');

const personaData = {
  role: 'first-year student',
  description: 'A passive student who hedges every answer.',
  traits: ['passive', 'hesitant'],
  speaking_style: 'Starts every reply with "Uh..."',
  intensity: 4,
};

interface CliRun {
  code: number | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `glow ...args`; asynchronous, since the server answering it lives in this process. */
function glow(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.GLOW_TOKEN;
  delete childEnv.GLOW_INSTANCE_URL;
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GLOW_BIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
  });
}

/** Collects what a child prints on `stream` until `pattern` shows in it; the getter keeps collecting after. */
function printedUntil(stream: NodeJS.ReadableStream, pattern: RegExp, what: string, limitMs: number): Promise<() => string> {
  let text = '';
  stream.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} in time: ${text}`)), limitMs);
    stream.on('data', (chunk: string) => {
      text += chunk;
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(() => text);
      }
    });
  });
}

/** Ctrl-C to a running `glow`: resolves with its exit status. */
function interrupt(child: ReturnType<typeof spawn>): Promise<number | null> {
  const closed = new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  child.kill('SIGINT');
  return closed;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One page of a minimal valid PDF (no external tooling needed). */
function minimalPdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = 'BT /F1 18 Tf 40 100 Td (Glow) Tj ET';
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** Half a second of 8 kHz mono silence as a WAV file. */
function silentWav(): Buffer {
  const samples = Buffer.alloc(8000);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
}

/**
 * A TCP proxy to the server that cuts the first watch connection right after its first SSE
 * frame, as a network failure would; later connections pass untouched.
 */
async function droppingProxy(target: URL): Promise<{ url: string; watchRequests: () => number; close: () => Promise<void> }> {
  let watchRequests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let cut = false;
    client.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').includes('GET /persona/watch')) cut = ++watchRequests === 1;
      upstream.write(chunk);
    });
    let seen = '';
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) return void client.write(chunk);
      seen += chunk.toString('latin1');
      const frameEnd = seen.indexOf('\n\n', seen.indexOf('data:'));
      if (seen.indexOf('data:') < 0 || frameEnd < 0) return;
      client.write(Buffer.from(seen.slice(0, frameEnd + 2), 'latin1'));
      client.destroy();
      upstream.destroy();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    watchRequests: () => watchRequests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('cli', () => {
  let harness: Harness;
  let org: TestOrg;
  let env: Record<string, string>;
  let workDir: string;
  const hasRoute = (routePath: string) => harness.app.operations.some((operation) => operation.path === routePath);
  /** Skips the test while another concern's route is not in the app yet. */
  const needsRoutes = (t: TestContext, ...routePaths: string[]) => {
    const missing = routePaths.filter((routePath) => !hasRoute(routePath));
    if (missing.length > 0) t.skip(`route not implemented yet: ${missing.join(', ')}`);
    return missing.length === 0;
  };

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('cli');
    env = { GLOW_INSTANCE_URL: harness.baseUrl, GLOW_TOKEN: org.admin.token! };
    workDir = mkdtempSync(path.join(os.tmpdir(), 'glow-cli-'));
  });

  after(() => rmSync(workDir, { recursive: true, force: true }));

  test('personas create --body, then get <id> --json returns it', async () => {
    const created = await glow(['personas', 'create', '--json', '--body', JSON.stringify({ name: 'Uh student', data: personaData })], env);
    assert.equal(created.code, 0, created.stderr);
    const record = JSON.parse(created.stdout);
    assert.equal(record.status, 'published');

    const fetched = await glow(['personas', 'get', record.id, '--json'], env);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.deepEqual(JSON.parse(fetched.stdout), record);
  });

  test('kebab flags become snake fields with coerced values; results print as a table', async () => {
    for (const name of ['Table persona one', 'Table persona two']) {
      assert.equal((await org.admin.post('/persona/create', { name, data: personaData })).status, 200);
    }
    const page = await glow(['personas', 'search', '--page-limit', '1', '--search', 'Table persona', '--json'], env);
    assert.equal(page.code, 0, page.stderr);
    const parsed = JSON.parse(page.stdout);
    assert.equal(parsed.items.length, 1);
    assert.equal(parsed.total_count, 2);

    const table = await glow(['personas', 'search', '--search', 'Table persona'], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^id\s+name\s+status\s+version\s+updated_at$/);
    assert.ok(lines.some((line) => /Table persona one\s+published\s+1\s/.test(line)), table.stdout);
    assert.match(lines.at(-1)!, /2 shown of 2 total/);
  });

  test('dotted flags nest into data and a positional id fills update', async () => {
    const created = await org.admin.post('/persona/create', { name: 'Nested', data: personaData });
    const updated = await glow(['personas', 'update', created.body.id, '--data', JSON.stringify(personaData), '--data.intensity', '9', '--expected-version', '1', '--json'], env);
    assert.equal(updated.code, 0, updated.stderr);
    const record = JSON.parse(updated.stdout);
    assert.equal(record.data.intensity, 9);
    assert.equal(record.version, 2);
  });

  test('an unknown field in --body fails with the server\'s message naming it', async () => {
    const result = await glow(['personas', 'search', '--body', '{"colour":"blue"}'], env);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /Unknown field: colour/);
    assert.match(result.stderr, /invalid_request, HTTP 400/);
  });

  test('a mistyped flag is a usage error (exit 2) that lists the flags the action takes', async () => {
    const search = await glow(['personas', 'search', '--page-limt', '3'], env);
    assert.equal(search.code, 2, search.stderr);
    assert.match(search.stderr, /unknown flag --page-limt for `glow personas search`; it takes --search, --status, --page-limit, --page-offset/);
    const generate = await glow(['personas', 'generate', '--instructions', 'A shy student', '--wiat'], env);
    assert.equal(generate.code, 2, generate.stderr);
    assert.match(generate.stderr, /unknown flag --wiat for `glow personas generate`; it takes --instructions, .*--wait\b/);
  });

  test('with --json a failure is one JSON error document on stderr, nothing on stdout', async () => {
    const refused = await glow(['personas', 'search', '--body', '{"colour":"blue"}', '--json'], env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    const body = JSON.parse(refused.stderr);
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.status, 400);
    assert.match(body.error.message, /Unknown field: colour/);
    const usage = await glow(['personaz', 'search', '--json'], env);
    assert.equal(usage.code, 2);
    assert.deepEqual(Object.keys(JSON.parse(usage.stderr).error), ['code', 'message']);
    assert.equal(JSON.parse(usage.stderr).error.code, 'usage');
    for (const args of [['personas', '--json'], ['--json']]) {
      const missing = await glow(args, env);
      assert.equal(missing.code, 2, args.join(' '));
      assert.match(JSON.parse(missing.stderr).error.message, /missing the/);
    }
  });

  test('no token fails with the 401 message and a hint', async () => {
    const result = await glow(['personas', 'search'], { GLOW_INSTANCE_URL: harness.baseUrl });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /HTTP 401/);
    assert.match(result.stderr, /set GLOW_TOKEN or pass --token/);
  });

  test('an unreachable server is explained; --instance-url overrides the environment', async () => {
    const port = await closedPort();
    const result = await glow(['personas', 'search', '--instance-url', `http://127.0.0.1:${port}`], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} .*is \`npm start\` running\\?`));
  });

  test('an instance URL without its scheme is a usage error that shows the fix', async () => {
    const result = await glow(['personas', 'search', '--instance-url', '127.0.0.1:8000'], env);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /the instance URL "127\.0\.0\.1:8000" is not an http\(s\) URL; write it with its scheme, e\.g\. http:\/\/127\.0\.0\.1:8000\./);
  });

  test('unknown families and actions are usage errors that point at the help', async () => {
    const family = await glow(['personaz', 'search'], env);
    assert.equal(family.code, 2);
    assert.match(family.stderr, /unknown family "personaz"\. Families: agents, attempts, .*personas/);
    const action = await glow(['personas', 'frobnicate'], env);
    assert.equal(action.code, 2);
    assert.match(action.stderr, /personas has no action "frobnicate".*glow personas --help/);
  });

  test('the operator creates an org with a kebab action name', async () => {
    const result = await glow(['system', 'org-create', '--name', `cli-org-${Date.now()}`, '--admin-name', 'Ann', '--admin-email', 'ann@example.edu', '--json'], {
      GLOW_INSTANCE_URL: harness.baseUrl,
      GLOW_TOKEN: harness.operator.token!,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(JSON.parse(result.stdout).token, /\S/);
    assert.match(result.stderr, /the token above is shown only this once/, 'the first admin\'s token is in this answer only');
  });

  test('flags become the body: kebab to snake, coerced values, dots nest, repeats are arrays, --body underneath', () => {
    const args = parseArgs([
      'p1', '--page-limit', '5', '--dangerous', 'false', '--ids', '[1,2]', '--data.intensity', '7', '--data.voice.voice-id', 'nova',
      '--instructions', 'one', '--instructions', 'two', '--code', '007', '--note=a=b', '--wait', 'p2', '--body', '{"data":{"role":"student","intensity":1},"page_limit":9}',
      '--', '--literal',
    ]);
    assert.deepEqual(args.positionals, ['p1', 'p2', '--literal']);
    assert.deepEqual(requestBody(args, ['wait']), {
      page_limit: 5,
      dangerous: false,
      ids: [1, 2],
      data: { role: 'student', intensity: 7, voice: { voice_id: 'nova' } },
      instructions: ['one', 'two'],
      code: '007',
      note: 'a=b',
    });
  });

  test('the CLI\'s noun table (kept free of the schemas for start-up speed) names every family by its plural', () => {
    for (const family of Object.values(FAMILIES)) {
      assert.equal(typeNamed(family.plural), family.type);
      assert.equal(typeNamed(family.type), family.type);
    }
    assert.equal(NOUNS.size, Object.keys(FAMILIES).length);
  });

  test('the help catalogue holds exactly the operations the server registers', async () => {
    const { loadOperations } = await import('../../src/cli/catalogue.ts');
    const key = (operation: { method: string; path: string }) => `${operation.method} ${operation.path}`;
    const catalogue = (await loadOperations()).map(key).sort();
    const served = harness.app.operations.filter((operation) => operation.tag !== 'health').map(key).sort();
    assert.deepEqual(catalogue, served);
  });

  test('--help lists the families and global options', async () => {
    const result = await glow(['--help'], {});
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--instance-url URL/);
    assert.match(result.stdout, /--token TOKEN/);
    assert.match(result.stdout, /^\s+personas\s+The AI character/m);
    assert.match(result.stdout, /^\s+rubrics\s/m);
    // The positional form offers what scenario generation makes, and nothing it refuses.
    assert.match(result.stdout, /^  glow scenarios generate <text\|image\|video> <title>/m);
  });

  test('personas --help lists the actions and their fields with types and descriptions', async () => {
    const result = await glow(['personas', '--help'], {});
    assert.equal(result.code, 0, result.stderr);
    for (const action of ['create', 'draft', 'update', 'get <id>', 'search', 'delete <id>']) {
      assert.match(result.stdout, new RegExp(`^  ${action}`, 'm'), action);
    }
    assert.match(result.stdout, /--page-limit <integer 1\.\.100>\s+Page size/);
    assert.match(result.stdout, /intensity <integer 1\.\.10>\s+\(required\) How strongly the persona shows its traits/);
    assert.match(result.stdout, /voice\.voice_id <string>\s+\(required\)/);
  });

  test('<family> <action> --help is about that action alone; the CLI\'s own verbs without an operation get the whole list', async () => {
    const result = await glow(['personas', 'generate', '--help'], {});
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: glow personas generate /m);
    assert.match(result.stdout, /^  generate \[--wait\]/m);
    assert.match(result.stdout, /--wait\s+Follow the run/);
    assert.doesNotMatch(result.stdout, /^  (create|search|delete)/m);
    assert.match(result.stdout, /All actions: glow personas --help/);
    // The CLI's own verbs find their operation: `upload image` is image_upload, `preview` file_preview.
    for (const [argv, usage] of [
      [['scenarios', 'upload', 'image', '--help'], /^Usage: glow scenarios upload image <path>/m],
      [['documents', 'preview', '--help'], /^Usage: glow documents preview <file_id>/m],
      [['attempts', 'message', '--help'], /^Usage: glow attempts chat-message/m],
    ] as const) {
      const verbHelp = await glow([...argv], {});
      assert.equal(verbHelp.code, 0, verbHelp.stderr);
      assert.match(verbHelp.stdout, usage);
      assert.doesNotMatch(verbHelp.stdout, /^  create/m);
    }
    // The CLI's own verbs without an operation of their own still get the family's help.
    const transcript = await glow(['attempts', 'transcript', '--help'], {});
    assert.equal(transcript.code, 0, transcript.stderr);
    assert.match(transcript.stdout, /^  create/m);
  });

  test('<family> <unknown action> --help is a usage error naming the action, not the family help with exit 0', async () => {
    const unknown = await glow(['personas', 'frobnicate', '--help'], {});
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /personas has no action "frobnicate".*glow personas --help/);
  });

  test('flags are read by their field\'s type: text stays text, one list item is a list, numbers must parse', async () => {
    const created = await glow([
      'personas', 'create', '--name', '2024', '--description', 'true', '--data.role', '"quoted"', '--data.description', 'Says little.',
      '--data.traits', 'passive', '--data.speaking-style', '12345', '--data.intensity', '4', '--json',
    ], env);
    assert.equal(created.code, 0, created.stderr);
    const record = JSON.parse(created.stdout);
    assert.equal(record.name, '2024');
    assert.equal(record.description, 'true');
    assert.equal(record.data.role, '"quoted"');
    assert.deepEqual(record.data.traits, ['passive']);
    assert.equal(record.data.speaking_style, '12345');
    assert.equal(record.data.intensity, 4);

    const setting = await glow(['settings', 'create', '--name', 'Retention', '--data.key', 'attempts.retention_days', '--data.value', '30', '--data.scope', 'org', '--json'], env);
    assert.equal(setting.code, 0, setting.stderr);
    assert.equal(JSON.parse(setting.stdout).data.value, '30');

    const notNumber = await glow(['personas', 'search', '--page-limit', 'abc'], env);
    assert.equal(notNumber.code, 2, notNumber.stderr);
    assert.match(notNumber.stderr, /--page-limit must be a number, not "abc"/);
    const noValue = await glow(['personas', 'create', '--name'], env);
    assert.equal(noValue.code, 2, noValue.stderr);
    assert.match(noValue.stderr, /--name needs a value/);
  });

  test('control characters in server data are shown escaped, except with --json', async () => {
    const name = 'Evil \u001b[31mRED\u001b]0;pwned\u0007';
    assert.equal((await org.admin.post('/persona/create', { name, description: 'bell \u0007 and csi \u009b', data: personaData })).status, 200);
    const table = await glow(['personas', 'search', '--search', 'Evil'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.doesNotMatch(table.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.ok(table.stdout.includes('Evil \\u001b[31mRED\\u001b]0;pwned\\u0007'), table.stdout);
    const id = JSON.parse((await glow(['personas', 'search', '--search', 'Evil', '--json'], env)).stdout).items[0].id;
    const record = await glow(['personas', 'get', id], env);
    assert.doesNotMatch(record.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.ok(record.stdout.includes('bell \\u0007 and csi \\u009b'), record.stdout);
    const json = await glow(['personas', 'get', id, '--json'], env);
    assert.equal(JSON.parse(json.stdout).name, name);
  });

  test('an instance URL with a path: the server has no such route, is GLOW_INSTANCE_URL right? (exit 1)', async () => {
    const wrongEnv = { ...env, GLOW_INSTANCE_URL: `${harness.baseUrl}/console` };
    const search = await glow(['personas', 'search'], wrongEnv);
    assert.equal(search.code, 1, search.stderr);
    assert.match(search.stderr, new RegExp(`the server at ${harness.baseUrl.replace(/\./g, '\\.')}/console has no route POST /persona/search.*is GLOW_INSTANCE_URL .*right\\?`));
    assert.doesNotMatch(search.stderr, /has no action/);
    const watch = await glow(['personas', 'watch', '01a23e3c-0000-7000-8000-000000000000'], wrongEnv);
    assert.equal(watch.code, 1, watch.stderr);
    assert.match(watch.stderr, /has no route GET \/persona\/watch.*GLOW_INSTANCE_URL/);
    // An action no Glow server has stays a usage error.
    const action = await glow(['personas', 'frobnicate'], env);
    assert.equal(action.code, 2, action.stderr);
  });

  test('kinds a family does not offer and malformed ranges are usage errors caught before sending', async () => {
    const image = path.join(workDir, 'kind.png');
    writeFileSync(image, 'not really a png');
    const upload = await glow(['documents', 'upload', 'image', image], env);
    assert.equal(upload.code, 2, upload.stderr);
    assert.match(upload.stderr, /`glow documents upload` has no kind "image"; the kinds documents offers: file, text/);
    const download = await glow(['documents', 'download', 'image', '01a23e3c-0000-7000-8000-000000000000'], env);
    assert.equal(download.code, 2, download.stderr);
    assert.match(download.stderr, /`glow documents download` has no kind "image"; the kinds documents offers: file, text, call/);
    const range = await glow(['system', 'download', 'file', '01a23e3c-0000-7000-8000-000000000000', '--range', 'abc'], env);
    assert.equal(range.code, 2, range.stderr);
    assert.match(range.stderr, /--range "abc" is not a byte range: write a-b .*a- .*-n/);
  });

  test('auths create says on stderr that the token is shown only once', async () => {
    const created = await glow(['auths', 'create', '--profile-id', org.adminProfileId, '--name', 'cli token'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /token/);
    assert.match(created.stderr, /shown only this once.*Copy it now/);
  });

  describe('generation', () => {
    let runId: string;
    let groupId: string;
    /** What `watch <run_id> --json` printed for the finished run. */
    let replayed: string;

    test('generate --wait prints the frames as they arrive and exits 0; the persona is then found', async (t) => {
      if (!needsRoutes(t, '/persona/generate', '/persona/watch')) return;
      const result = await glow(['personas', 'generate', '--wait', '--body', JSON.stringify({ instructions: ['A passive student who starts every reply with Uh...'] })], env);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      const handles = /^run (\S+) in group (\S+)$/.exec(lines[0]!);
      assert.ok(handles, result.stdout);
      [, runId, groupId] = handles;
      assert.ok(lines.some((line) => /^progress \d+\/\d+ \d+%/.test(line)), result.stdout);
      const saved = lines.map((line) => /^saved (\S+)$/.exec(line)?.[1]).find(Boolean);
      assert.ok(saved, result.stdout);
      assert.match(lines.at(-1)!, /^complete: /);
      assert.match(result.stderr, /offline generator .*not AI output/);
      const found = await org.admin.post('/persona/get', { id: saved });
      assert.equal(found.status, 200);
    });

    test('generate --instructions 2024 sends the text as a one-item list, not a number', async (t) => {
      if (!needsRoutes(t, '/persona/generate')) return;
      const result = await glow(['personas', 'generate', '--instructions', '2024', '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(JSON.parse(result.stdout).run_id, /^[0-9a-f-]{36}$/);
    });

    test('generate --wait --json: one JSON object per line, each frame with its event_id; the offline note on stderr only', async (t) => {
      if (!needsRoutes(t, '/persona/generate', '/persona/watch')) return;
      const result = await glow(['personas', 'generate', '--wait', '--json', '--instructions', 'A quiet student'], env);
      assert.equal(result.code, 0, result.stderr);
      const [handles, ...frames] = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
      assert.ok(handles.run_id && handles.group_id);
      assert.ok(frames.length >= 3 && frames.every((frame) => /^\d+$/.test(frame.event_id)), result.stdout);
      assert.equal(frames.at(-1).event_type, 'persona.generation.complete');
      assert.match(result.stderr, /offline generator .*not AI output/);
    });

    test('watch <run_id> of a finished run replays every frame as JSON lines and exits 0', async (t) => {
      if (!needsRoutes(t, '/persona/watch') || !runId) return;
      const result = await glow(['personas', 'watch', runId, '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      replayed = result.stdout;
      const frames = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
      assert.ok(frames.every((frame) => frame.run_id === runId && frame.group_id === groupId));
      const kinds = frames.map((frame) => frame.event_type);
      assert.ok(kinds.includes('persona.generation.saved'), kinds.join());
      assert.equal(kinds.at(-1), 'persona.generation.complete');
      // The same id in capitals is the same run: its complete frame ends the watch, with no "closed early" note.
      const shouted = await glow(['personas', 'watch', runId.toUpperCase(), '--json'], env);
      assert.equal(shouted.code, 0, shouted.stderr);
      assert.equal(shouted.stdout, result.stdout);
      assert.doesNotMatch(shouted.stderr, /closed the stream before/);
    });

    test('watch <run_id> --last-event-id <its last frame> says the run had already ended and exits 0', async (t) => {
      if (!needsRoutes(t, '/persona/watch') || !replayed) return;
      // The id to resume after is the one the JSON frames carry: the log's sequence.
      const frames = await harness.database.db.selectFrom('generation_events').select('seq').where('run_id', '=', runId).orderBy('seq', 'desc').limit(1).execute();
      const last = JSON.parse(replayed.trim().split('\n').at(-1)!).event_id;
      assert.equal(last, String(frames[0]!.seq));
      const result = await glow(['personas', 'watch', runId, '--last-event-id', last, '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), '', `frames after the last one: ${result.stdout}`);
      assert.match(result.stderr, /had already ended/);
    });

    test('a run watch the server ends before the run does is resumed with Last-Event-ID; if the server keeps ending it, exit 0 naming the --last-event-id', async () => {
      // A server that is stopping ends its streams cleanly: two progress frames, then the end. Back
      // up (\`back\`), it answers a resumed watch with the terminal frame; still going down, with nothing.
      let back = true;
      const resumedWith: (string | undefined)[] = [];
      const stopping = createHttpServer((request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const frame = (id: number, data: Record<string, unknown>) => `id: ${id}\nevent: x\ndata: ${JSON.stringify({ run_id: 'r-1', resource_type: 'persona', ...data })}\n\n`;
        const resumeAfter = request.headers['last-event-id'] as string | undefined;
        resumedWith.push(resumeAfter);
        if (resumeAfter === undefined) {
          response.end(frame(7, { type: 'GenerationProgressEvent', resource_id: 'p-1', index: 0, total: 1, percent: 10 }) + frame(8, { type: 'GenerationProgressEvent', resource_id: 'p-1', index: 0, total: 1, percent: 50 }));
        } else {
          response.end(back ? frame(9, { type: 'GenerationCompleteEvent', artifact_id: 'p-1', artifact_ids: ['p-1'], message: 'Saved persona p-1.' }) : '');
        }
      });
      await new Promise<void>((resolve) => stopping.listen(0, '127.0.0.1', resolve));
      try {
        const port = (stopping.address() as { port: number }).port;
        const resumed = await glow(['personas', 'watch', 'r-1', '--json'], { ...env, GLOW_INSTANCE_URL: `http://127.0.0.1:${port}` });
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.deepEqual(resumed.stdout.trim().split('\n').map((line) => JSON.parse(line).event_id), ['7', '8', '9'], 'every frame once');
        assert.doesNotMatch(resumed.stderr, /closing the stream/);
        assert.deepEqual(resumedWith, [undefined, '8']);

        back = false;
        resumedWith.length = 0;
        const result = await glow(['personas', 'watch', 'r-1'], { ...env, GLOW_INSTANCE_URL: `http://127.0.0.1:${port}` });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /kept closing the stream before run r-1 ended; `glow personas watch r-1 --last-event-id 8` follows it on from there/);
        assert.ok(resumedWith.length > 2 && resumedWith.slice(1).every((id) => id === '8'), JSON.stringify(resumedWith));
      } finally {
        await new Promise((resolve) => stopping.close(resolve));
      }
    });

    test('a watch whose connection drops resumes with Last-Event-ID: no gap, no duplicate', async (t) => {
      if (!needsRoutes(t, '/persona/watch') || !replayed) return;
      const proxy = await droppingProxy(new URL(harness.baseUrl));
      try {
        const result = await glow(['personas', 'watch', runId, '--json'], { ...env, GLOW_INSTANCE_URL: proxy.url });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(proxy.watchRequests(), 2, 'the CLI reconnected once');
        assert.equal(result.stdout, replayed);
      } finally {
        await proxy.close();
      }
    });

    test('watch <run_id> of a run not started says it is waiting, and Ctrl-C ends it', async (t) => {
      if (!needsRoutes(t, '/persona/watch')) return;
      // A group id pasted as a run id is a run id not triggered yet: the server waits, silently.
      const child = spawn(process.execPath, [GLOW_BIN, 'personas', 'watch', groupId ?? '01a23e3c-0000-7000-8000-000000000000'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      await printedUntil(child.stderr, /waiting for run .*no event yet.*--group <group_id>/, 'a waiting note', 15_000);
      assert.equal(await interrupt(child), 130);
    });

    test('watch --group stays open, labelling each run, until Ctrl-C', async (t) => {
      if (!needsRoutes(t, '/persona/watch') || !groupId) return;
      const child = spawn(process.execPath, [GLOW_BIN, 'personas', 'watch', '--group', groupId], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout = await printedUntil(child.stdout, /complete: /, 'a complete frame', 10_000);
      assert.equal(child.exitCode, null, 'still open after the run ended');
      assert.equal(await interrupt(child), 130);
      assert.match(stdout(), new RegExp(`^\\[run ${runId.replace(/-/g, '').slice(-8)}\\] saved `, 'm'));
    });

    test('generations lists the group; system group <id> --detail shows the run', async (t) => {
      if (!needsRoutes(t, '/persona/generations', '/system/group') || !groupId) return;
      const list = await glow(['personas', 'generations', '--page-limit', '5'], env);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^group_id\s+group_name\s+profile_id\s+session_id\s+created_at/);
      assert.ok(list.stdout.includes(groupId), list.stdout);

      const group = await glow(['system', 'group', groupId, '--detail'], env);
      assert.equal(group.code, 0, group.stderr);
      assert.ok(group.stdout.includes(runId), group.stdout);
      assert.match(group.stdout, /run_id\s+artifact\s+status\s+model_id\s+input_tokens\s+output_tokens\s+cost/);
      assert.match(group.stdout, /offline/);
    });

    test('scenarios generate image <title> --wait prints the media frames; the image downloads as a PNG', async (t) => {
      if (!needsRoutes(t, '/scenario/generate', '/scenario/watch', '/scenario/image_download')) return;
      const result = await glow(['scenarios', 'generate', 'image', 'University Office', '--instructions', 'Wide-angle shot, late afternoon light', '--wait'], env);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      const started = lines.findIndex((line) => line.startsWith('media_progress image started'));
      const completed = lines.findIndex((line) => /^media_complete image \S+ \d+ bytes image\/png$/.test(line));
      const saved = lines.findIndex((line) => line.startsWith('saved '));
      assert.ok(started > 0 && completed > started && saved > completed, result.stdout);
      assert.match(lines.at(-1)!, /^complete: /);

      const uploadId = lines[completed]!.split(' ')[2]!;
      const image = path.join(workDir, 'office.png');
      const downloaded = await glow(['scenarios', 'download', 'image', uploadId, '--output', image], env);
      assert.equal(downloaded.code, 0, downloaded.stderr);
      assert.equal((await sharp(image).metadata()).format, 'png');
    });

    test('the positional form sends modality and title for scenarios', async (t) => {
      if (!needsRoutes(t, '/scenario/generate')) return;
      const result = await glow(['scenarios', 'generate', 'text', 'University Office', '--instructions', 'An office-hours meeting about a late assignment', '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      const handles = JSON.parse(result.stdout);
      assert.match(handles.run_id, /^[0-9a-f-]{36}$/);
      assert.match(handles.group_id, /^[0-9a-f-]{36}$/);
    });

    test("the positional form offers each family's own modalities, needs its title, and refuses the others before asking the server", async () => {
      const sentence = await glow(['personas', 'generate', 'A shy student'], env);
      assert.equal(sentence.code, 2);
      assert.match(sentence.stderr, /unexpected argument "A shy student".*the only positional form is `glow personas generate <text\|audio> <title>`/);
      const audioScenario = await glow(['scenarios', 'generate', 'audio', 'Office'], env);
      assert.equal(audioScenario.code, 2);
      assert.match(audioScenario.stderr, /scenario generation cannot produce audio; the positional form is `glow scenarios generate <text\|image\|video> <title>`/);
      const untitled = await glow(['scenarios', 'generate', 'text', '--instructions', 'An office-hours meeting'], env);
      assert.equal(untitled.code, 2);
      assert.match(untitled.stderr, /the positional form needs a title after "text" \(or --title TEXT\): `glow scenarios generate <text\|image\|video> <title>`/);
    });
  });

  describe('generation with a model', () => {
    let fake: FakeProvider;
    let modelId: string;
    const apiKeyEnv = `GLOW_TEST_CLI_FAKE_KEY_${process.pid}`;

    before(async () => {
      fake = await startFakeProvider();
      process.env[apiKeyEnv] = 'sk-fake-cli';
      const { modelIds } = await configureFakeModels(org.admin, fake.url, apiKeyEnv, [
        { purpose: 'text', modelName: 'fake-1', inputPricePerToken: 0.000001, outputPricePerToken: 0.000002 },
      ]);
      modelId = modelIds[0]!;
    });

    after(async () => {
      await fake?.close();
      delete process.env[apiKeyEnv];
    });

    test('the model\'s run saves its artifact; system group --detail shows its model and tokens', async (t) => {
      if (!needsRoutes(t, '/persona/generate', '/persona/watch', '/system/group')) return;
      const result = await glow(['personas', 'generate', '--wait', '--instructions', 'A confused student', '--config.params.model-id', modelId], env);
      assert.equal(result.code, 0, result.stderr);
      const groupId = /^run \S+ in group (\S+)$/m.exec(result.stdout)![1]!;
      assert.match(result.stdout, /^saved /m);
      assert.doesNotMatch(result.stderr, /offline/, 'a model made this one');

      const group = await glow(['system', 'group', groupId, '--detail'], env);
      assert.equal(group.code, 0, group.stderr);
      assert.match(group.stdout, new RegExp(`completed\\s+${modelId}\\s+120\\s+80\\s`), group.stdout);
    });

    test('a model that returns garbage: the error frame is the last line and the exit status is 1', async (t) => {
      if (!needsRoutes(t, '/persona/generate', '/persona/watch')) return;
      fake.setDefault({ reply: 'I cannot produce JSON today. <<<garbage>>>' });
      const result = await glow(['personas', 'generate', '--wait', '--instructions', 'A confused student', '--config.params.model-id', modelId], env);
      fake.reset();
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout.trim().split('\n').at(-1)!, /^error: .*The model did not produce a valid persona in 3 replies/);
      assert.doesNotMatch(result.stdout, /resource persona/, 'the error line names no id of something never made');
      // The group's detail says why, beside the raw replies.
      const [, failedRun, failedGroup] = /^run (\S+) in group (\S+)$/m.exec(result.stdout)!;
      const detail = await glow(['system', 'group', failedGroup!, '--detail'], env);
      assert.equal(detail.code, 0, detail.stderr);
      assert.match(detail.stdout, new RegExp(`run ${failedRun} failed: .*did not produce a valid persona`));
      assert.match(detail.stdout, /<<<garbage>>>/);
      assert.doesNotMatch(result.stdout, /^saved /m);
      // Waited for by the server (no stream): the answer says how it ended, and the exit status follows it.
      fake.setDefault({ reply: 'Still no JSON. <<<garbage>>>' });
      const waited = await glow(['personas', 'generate', '--wait-for-complete', 'true', '--instructions', 'A confused student', '--config.params.model-id', modelId], env);
      fake.reset();
      assert.equal(waited.code, 1, waited.stdout + waited.stderr);
      assert.match(waited.stderr, /ended in error: .*did not produce a valid persona/);
      fake.setDefault({ reply: 'Still no JSON. <<<garbage>>>' });
      const waitedJson = await glow(['personas', 'generate', '--wait-for-complete', 'true', '--instructions', 'A confused student', '--config.params.model-id', modelId, '--json'], env);
      fake.reset();
      assert.equal(waitedJson.code, 1, waitedJson.stdout + waitedJson.stderr);
      assert.equal(JSON.parse(waitedJson.stdout).status, 'error', 'the answer itself is printed');
      const document = JSON.parse(waitedJson.stderr);
      assert.equal(document.error.code, 'cli_error');
      assert.match(document.error.message, /ended in error: .*did not produce a valid persona/);
    });
  });

  describe('media', () => {
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, index) => (index * 7919) % 251));
    let fileId: string;

    test('upload file prints the ids; download writes the same bytes', async (t) => {
      if (!needsRoutes(t, '/document/file_upload', '/document/file_download')) return;
      const source = path.join(workDir, 'data.bin');
      writeFileSync(source, bytes);
      const uploaded = await glow(['documents', 'upload', 'file', source, '--name', 'Binary blob', '--json'], env);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      const ids = JSON.parse(uploaded.stdout);
      assert.ok(ids.upload_id && ids.files_id, uploaded.stdout);
      fileId = ids.upload_id;

      const target = path.join(workDir, 'data.out');
      const downloaded = await glow(['documents', 'download', 'file', fileId, '--output', target], env);
      assert.equal(downloaded.code, 0, downloaded.stderr);
      assert.ok(readFileSync(target).equals(bytes));
      assert.match(downloaded.stderr, /wrote 200000 bytes/);
    });

    test('upload text of a UTF-16 CSV (as Excel saves "Unicode text") declares it by its name, not as the MP3 its first bytes resemble', async (t) => {
      if (!needsRoutes(t, '/document/text_upload')) return;
      const source = path.join(workDir, 'scores.csv');
      writeFileSync(source, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,score\nAna,5\n', 'utf16le')]));
      const uploaded = await glow(['documents', 'upload', 'text', source, '--json'], env);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      const row = await harness.database.db.selectFrom('uploads').select('mime_type').where('id', '=', JSON.parse(uploaded.stdout).upload_id).executeTakeFirstOrThrow();
      assert.equal(row.mime_type, 'text/csv');
    });

    test('download --range writes exactly that slice to stdout', async (t) => {
      if (!needsRoutes(t, '/system/file_download') || !fileId) return;
      const result = await glow(['system', 'download', 'file', fileId, '--range', '100-199'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdoutBytes.equals(bytes.subarray(100, 200)));
    });

    test('upload image takes the type from the bytes of a file with no extension', async (t) => {
      if (!needsRoutes(t, '/scenario/image_upload', '/scenario/image_download')) return;
      const image = path.join(workDir, 'classroom');
      writeFileSync(image, await sharp({ create: { width: 8, height: 6, channels: 3, background: '#3366aa' } }).png().toBuffer());
      const uploaded = await glow(['scenarios', 'upload', 'image', image, '--json'], env);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      const ids = JSON.parse(uploaded.stdout);
      assert.ok(ids.upload_id && ids.images_id, uploaded.stdout);
      const stored = await org.admin.post('/scenario/image_download', { image_id: ids.images_id });
      assert.equal(stored.status, 200);
      assert.equal(stored.headers.get('content-type'), 'image/png');
    });

    test('attempts upload audio ./reply.webm declares the WebM container as audio', async (t) => {
      if (!needsRoutes(t, '/attempt/audio_upload', '/attempt/audio_download')) return;
      const webm = path.join(workDir, 'reply.webm');
      await execFileAsync(ffmpeg.path, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.5', '-c:a', 'libopus', webm]);
      const uploaded = await glow(['attempts', 'upload', 'audio', webm, '--json'], env);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      const ids = JSON.parse(uploaded.stdout);
      assert.ok(ids.audio_id && ids.audios_id && ids.upload_id, uploaded.stdout);
      const stored = await org.admin.post('/attempt/audio_download', { audio_id: ids.audio_id });
      assert.equal(stored.status, 200);
      assert.equal(stored.headers.get('content-type'), 'audio/webm');
    });

    test('preview of an uploaded PDF writes a PNG', async (t) => {
      if (!needsRoutes(t, '/document/file_upload', '/document/file_preview')) return;
      const pdf = path.join(workDir, 'paper.pdf');
      writeFileSync(pdf, minimalPdf());
      const uploaded = await glow(['documents', 'upload', 'file', pdf, '--json'], env);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      const png = path.join(workDir, 'preview.png');
      const preview = await glow(['documents', 'preview', JSON.parse(uploaded.stdout).upload_id, '--output', png], env);
      assert.equal(preview.code, 0, preview.stderr);
      assert.ok(readFileSync(png).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
    });
  });

  describe('chat', () => {
    let attemptId: string;

    /** A simulation of a text persona and a scenario, made through the API (the CLI is what is under test). */
    async function createSimulation(): Promise<string> {
      const persona = await org.admin.post('/persona/create', { name: 'Chat student', data: { ...personaData, opening_line: 'Uh... hi. You wanted to see me?' } });
      const scenarioData = { ...FAMILIES.scenario.example } as Record<string, unknown>;
      for (const field of Object.keys(FAMILIES.scenario.uploadRefs ?? {})) delete scenarioData[field];
      const scenario = await org.admin.post('/scenario/create', { name: 'Office hours', data: scenarioData });
      assert.equal(scenario.status, 200, scenario.text);
      const simulation = await org.admin.post('/simulation/create', {
        name: 'Office hours practice',
        data: { persona_id: persona.body.id, scenario_id: scenario.body.id, modality: 'text', max_turns: 10 },
      });
      assert.equal(simulation.status, 200, simulation.text);
      return simulation.body.id;
    }

    test('attempts start <simulation_id> starts an attempt', async (t) => {
      if (!needsRoutes(t, '/attempt/start')) return;
      const result = await glow(['attempts', 'start', await createSimulation(), '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      const attempt = JSON.parse(result.stdout);
      assert.match(attempt.data.group_id, /^[0-9a-f-]{36}$/);
      attemptId = attempt.id;
    });

    test('attempts message uploads the audio, sends the turn and prints the reply as it streams', async (t) => {
      if (!needsRoutes(t, '/attempt/chat_message', '/attempt/audio_upload', '/attempt/watch') || !attemptId) return;
      const audio = path.join(workDir, 'reply.wav');
      writeFileSync(audio, silentWav());
      const result = await glow(['attempts', 'message', attemptId, 'Hi, thanks for coming in.', '--audio', audio], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /\S/, 'the persona answered');
    });

    test('attempts transcript shows the persona\'s opening line, then both turns with the learner\'s audio upload', async (t) => {
      if (!needsRoutes(t, '/attempt/chat_message', '/system/group') || !attemptId) return;
      const result = await glow(['attempts', 'transcript', attemptId], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^\[opening\]\n  Uh\.\.\. hi\. You wanted to see me\?\n\[user\]/, 'the persona\'s opening line comes first, as on the practice page');
      assert.match(result.stdout, /\[user\][^\n]*\n  Hi, thanks for coming in\.\n  audio uploads: [0-9a-f-]{36}/);
      assert.match(result.stdout, /\[assistant\]/);
    });

    test('attempts message checks its attempt before uploading: a malformed id is a usage error, an attempt ended or with its turns used up uploads nothing', async (t) => {
      if (!needsRoutes(t, '/attempt/chat_message', '/attempt/audio_upload') || !attemptId) return;
      const audio = path.join(workDir, 'late.wav');
      writeFileSync(audio, silentWav());
      const malformed = await glow(['attempts', 'message', 'not-a-uuid', 'hello'], env);
      assert.equal(malformed.code, 2, malformed.stderr);
      assert.match(malformed.stderr, /"not-a-uuid" is not an attempt id/);
      const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', attemptId).executeTakeFirstOrThrow();
      const uploadsBefore = (await harness.database.db.selectFrom('uploads').select('id').where('org_id', '=', org.orgId).execute()).length;
      // Its turns used up, the last reply still being written: the files would be refused with the turn.
      await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), turn_count: 10 }) }).where('id', '=', attemptId).execute();
      const usedUp = await glow(['attempts', 'message', attemptId, 'One more thing', '--audio', audio], env);
      assert.equal(usedUp.code, 1, usedUp.stderr);
      assert.match(usedUp.stderr, /has used all 10 turns.*Nothing was uploaded/);
      await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), state: 'completed' }) }).where('id', '=', attemptId).execute();
      const ended = await glow(['attempts', 'message', attemptId, 'One more thing', '--audio', audio], env);
      assert.equal(ended.code, 1, ended.stderr);
      assert.match(ended.stderr, /is completed; start a new attempt.*Nothing was uploaded/);
      assert.equal((await harness.database.db.selectFrom('uploads').select('id').where('org_id', '=', org.orgId).execute()).length, uploadsBefore);
    });

    test('attempts end <attempt_id> ends an attempt in progress', async (t) => {
      if (!needsRoutes(t, '/attempt/start', '/attempt/end')) return;
      const started = JSON.parse((await glow(['attempts', 'start', await createSimulation(), '--json'], env)).stdout);
      const ended = await glow(['attempts', 'end', started.id, '--json'], env);
      assert.equal(ended.code, 0, ended.stderr);
      assert.equal(JSON.parse(ended.stdout).data.state, 'completed');
      const again = await glow(['attempts', 'end', started.id], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /has already ended/);
    });

    test('attempts transcript of an attempt written as a record (no conversation) says so and exits 1', async (t) => {
      if (!needsRoutes(t, '/attempt/create', '/system/group')) return;
      const written = await org.admin.post('/attempt/create', { name: 'Imported', data: { simulation_id: await createSimulation(), state: 'completed' } });
      assert.equal(written.status, 200, written.text);
      const result = await glow(['attempts', 'transcript', written.body.id], env);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /has no conversation: it is a record written directly/);
    });
  });
});
