import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { ApiClient, getHarness, type Harness } from '../support/harness.ts';
import { startServerProcess } from '../support/server-process.ts';

describe('server process', () => {
  let harness: Harness;
  let dataDir: string;

  before(async () => {
    harness = await getHarness();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-lifecycle-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('npm start prints where it listens and how to authenticate; data survives a restart; SIGTERM exits cleanly', async () => {
    // PGlite belongs to one process, so this server gets its own data folder; on PostgreSQL it shares the suite's database.
    const env: Record<string, string> = { GLOW_DATA_DIR: dataDir, GLOW_ADMIN_TOKEN: 'lifecycle-admin-token' };
    if (harness.backend === 'postgres') env.DATABASE_URL = harness.config.DATABASE_URL!;

    const first = await startServerProcess(env);
    assert.match(first.output(), /Glow .* is listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(first.output(), /Authorization: Bearer <the GLOW_ADMIN_TOKEN this server started with>/);
    assert.match(first.output(), /CLI, in another shell: export GLOW_INSTANCE_URL=http:\/\/127\.0\.0\.1:\d+ GLOW_TOKEN=<that token>; npx glow --help/);
    assert.doesNotMatch(first.output(), /lifecycle-admin-token/, 'the secret is never printed');
    assert.match(first.output(), /web console: http:\/\/127\.0\.0\.1:\d+\/console\//);
    assert.match(first.output(), /default model: /);
    // A first start on PGlite says it is creating the store before the long wait; a restart does not.
    const creating = /Creating the embedded PostgreSQL store at .*first start only/;
    if (harness.backend === 'pglite') assert.match(first.output(), creating);
    else assert.doesNotMatch(first.output(), creating);
    // The console's script is bundled from web/src by the started process itself.
    const script = await fetch(`${first.url}/console/app.js`);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /last-event-id/);
    let client = new ApiClient(first.url, 'lifecycle-admin-token');
    const created = await client.post('/persona/create', { name: 'Survives restarts', data: FAMILIES.persona.example });
    assert.equal(created.status, 200, created.text);
    assert.equal(await first.stop('SIGTERM'), 0, first.output());

    // Restarted with a model in the environment: the banner names the model generation uses.
    const second = await startServerProcess({ ...env, GLOW_LLM_BASE_URL: 'http://127.0.0.1:9/v1', GLOW_LLM_MODEL: 'tiny-model' });
    try {
      assert.match(second.output(), /default model: env:openai_compatible:tiny-model at http:\/\/127\.0\.0\.1:9\/v1/);
      assert.doesNotMatch(second.output(), creating);
      client = new ApiClient(second.url, 'lifecycle-admin-token');
      const read = await client.post('/persona/get', { id: created.body.id });
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, created.body);
    } finally {
      assert.equal(await second.stop('SIGINT'), 0, second.output());
    }
  });
  test('a stopping server lets a request in flight finish; a second signal stops it at once', async () => {
    const env: Record<string, string> = { GLOW_DATA_DIR: dataDir, GLOW_ADMIN_TOKEN: 'lifecycle-admin-token' };
    if (harness.backend === 'postgres') env.DATABASE_URL = harness.config.DATABASE_URL!;
    const server = await startServerProcess(env);
    const { hostname, port } = new URL(server.url);
    // A body announced and never sent: the request stays in flight.
    const socket = net.connect(Number(port), hostname);
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('POST /persona/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer lifecycle-admin-token\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":');
      await new Promise((resolve) => setTimeout(resolve, 200));
      server.child.kill('SIGINT');
      const deadline = Date.now() + 20_000;
      while (!/Received SIGINT: finishing in-flight requests/.test(server.output())) {
        assert.ok(Date.now() < deadline, server.output());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(server.child.exitCode, null, 'it waits for the request in flight');
      assert.equal(await server.stop('SIGINT'), 1, server.output());
      assert.match(server.output(), /Received SIGINT again: stopping now/);
    } finally {
      socket.destroy();
      await server.stop('SIGKILL');
    }
  });
});
