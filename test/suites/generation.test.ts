// The generation suite: registers its tests when imported (see index.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { completeData } from '../../src/artifacts/families/define.ts';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import type { ArtifactType } from '../../src/artifacts/types.ts';
import { errorEvent } from '../../src/generation/events.ts';
import { endRun } from '../../src/generation/lifecycle.ts';
import { MAX_RUN_ATTEMPTS } from '../../src/generation/module.ts';
import { RunQueue, RUNS_PER_JOB } from '../../src/generation/queue.ts';
import { openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { ForegroundWork } from '../../src/http/foreground.ts';
import { claimRuns, finishRun, holdQueuedRuns, renewLease, staleQueuedRuns } from '../../src/generation/store.ts';
import { appendEvents, EVENTS_CHANNEL, parseNotification } from '../../src/streaming/event-log.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { ApiClient as Client, createScratchDatabase, DEFAULT_POSTGRES_URL, getHarness, type ApiClient, type Harness, type TestOrg } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { configureFakeModels } from '../support/fake-models.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

interface Frame {
  id: string;
  data: any;
}

interface Watch {
  status: number;
  frames: Frame[];
  /** The raw text received, to check the framing itself. */
  raw: string;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  /** Resolves once a frame matching `predicate` arrived (checks earlier frames too). */
  until(predicate: (frame: Frame) => boolean): Promise<Frame>;
  close(): void;
}

/** Opens GET <path> as an SSE stream and parses it with eventsource-parser as it arrives. */
async function openWatch(client: ApiClient, path: string, headers: Record<string, string> = {}): Promise<Watch> {
  const controller = new AbortController();
  const requestHeaders: Record<string, string> = { accept: 'text/event-stream', ...headers };
  if (client.token) requestHeaders.authorization = `Bearer ${client.token}`;
  const response = await fetch(`${client.baseUrl}${path}`, { headers: requestHeaders, signal: controller.signal });
  const frames: Frame[] = [];
  const waiters: { predicate: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];
  const watch: Watch = {
    status: response.status,
    frames,
    raw: '',
    ended: Promise.resolve(),
    until(predicate) {
      const found = frames.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    close: () => controller.abort(),
  };
  if (response.status !== 200 || !response.body) {
    watch.raw = await response.text();
    return watch;
  }
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      const frame = { id: message.id ?? '', data: JSON.parse(message.data) };
      frames.push(frame);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(frame)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  watch.ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        watch.raw += value;
        parser.feed(value);
      }
    } catch {
      // Aborted by the test.
    }
  })();
  return watch;
}

/** Watches a run to its end (the server closes a run stream after the terminal event). */
async function watchToEnd(client: ApiClient, type: string, runId: string, headers: Record<string, string> = {}): Promise<Frame[]> {
  const watch = await openWatch(client, `/${type}/watch?run_id=${runId}`, headers);
  assert.equal(watch.status, 200, watch.raw);
  await watch.ended;
  return watch.frames;
}

const kinds = (frames: Frame[]) => frames.map((frame) => frame.data.type);
const isTerminal = (frame: Frame) => frame.data.type === 'GenerationCompleteEvent' || frame.data.type === 'GenerationErrorEvent';

async function generate(client: ApiClient, type: string, body: Record<string, unknown>) {
  const response = await client.post(`/${type}/generate`, body);
  assert.equal(response.status, 200, response.text);
  return response.body as { group_id: string; run_id: string; produced_media: unknown[]; idempotency_key?: string; status?: string; message?: string };
}

describe('generation', () => {
  let harness: Harness;
  let org: TestOrg;
  let fake: FakeProvider;
  let fakeModelId: string;
  const apiKeyEnv = `GLOW_TEST_FAKE_KEY_${process.pid}`;

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('gen');
    fake = await startFakeProvider();
    process.env[apiKeyEnv] = 'sk-fake-test';
    const { modelIds } = await configureFakeModels(org.admin, fake.url, apiKeyEnv, [
      { purpose: 'text', modelName: 'fake-1', inputPricePerToken: 0.000001, outputPricePerToken: 0.000002 },
    ]);
    fakeModelId = modelIds[0]!;
  });

  after(async () => {
    await fake?.close();
  });

  test('an offline run streams progress, saved, complete in order; the artifact passes its schema and is searchable', async () => {
    const handles = await generate(org.admin, 'persona', { instructions: ['A passive student who starts every reply with Uh...'] });
    assert.deepEqual(handles.produced_media, []);
    const frames = await watchToEnd(org.admin, 'persona', handles.run_id);
    assert.deepEqual(kinds(frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
    for (const frame of frames) {
      assert.equal(frame.data.run_id, handles.run_id);
      assert.equal(frame.data.group_id, handles.group_id);
      assert.equal(frame.data.artifact_type, 'persona');
      assert.ok(!Number.isNaN(Date.parse(frame.data.created_at)));
    }
    assert.deepEqual(frames.map((frame) => frame.data.event_type), ['persona.generation.progress', 'persona.generation.saved', 'persona.generation.complete']);
    const [progress, saved, complete] = frames.map((frame) => frame.data);
    assert.equal(progress.completed_resources, 1);
    assert.equal(progress.total_resources, 1);
    assert.equal(progress.percentage, 100);
    assert.equal(complete.success, true);
    assert.equal(complete.artifact_id, saved.artifact_id);

    const record = await org.admin.post('/persona/get', { id: saved.artifact_id });
    assert.equal(record.status, 200);
    assert.equal(FAMILIES.persona.data.safeParse(record.body.data).success, true);
    const found = await org.admin.post('/persona/search', {});
    assert.ok(found.body.items.some((item: { id: string }) => item.id === saved.artifact_id));
  });

  test('SSE framing: numeric increasing ids, data lines, no event: line; ?access_token= works on watch only', async () => {
    const handles = await generate(org.admin, 'rubric', { instructions: ['Rubric for office-hours listening'] });
    const watch = await openWatch(org.admin.withToken(undefined), `/rubric/watch?run_id=${handles.run_id}&access_token=${encodeURIComponent(org.admin.token!)}`);
    assert.equal(watch.status, 200, watch.raw);
    await watch.ended;
    assert.doesNotMatch(watch.raw, /^event:/m);
    assert.match(watch.raw, /^id: \d+\ndata: \{.*\}\n\n/m, 'a frame (keep-alive comments may come between)');
    const ids = watch.frames.map((frame) => Number(frame.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(new Set(ids).size, ids.length);

    const unauthenticated = await harness.anonymous.get(`/rubric/watch?run_id=${handles.run_id}`);
    assert.equal(unauthenticated.status, 401);
    const tokenInQueryElsewhere = await harness.anonymous.post(`/rubric/generations?access_token=${encodeURIComponent(org.admin.token!)}`, {});
    assert.equal(tokenInQueryElsewhere.status, 401);
  });

  test('count=3 saves three artifacts with monotonic progress', async () => {
    const handles = await generate(org.admin, 'persona', { instructions: ['Three anxious first-years'], config: { params: { count: 3 } } });
    const frames = await watchToEnd(org.admin, 'persona', handles.run_id);
    const progress = frames.filter((frame) => frame.data.type === 'GenerationProgressEvent').map((frame) => frame.data.completed_resources);
    assert.deepEqual(progress, [1, 2, 3]);
    const saved = frames.filter((frame) => frame.data.type === 'GenerationSavedEvent').map((frame) => frame.data.artifact_id);
    assert.equal(new Set(saved).size, 3);
    const complete = frames.at(-1)!.data;
    assert.equal(complete.type, 'GenerationCompleteEvent');
    assert.deepEqual(complete.artifact_ids, saved);
    // Every progress frame precedes the complete frame, and each saved follows its progress.
    assert.deepEqual(kinds(frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
  });

  test('every family generates offline an artifact that passes its schema (required references filled from the org)', async () => {
    const familyOrg = await harness.newOrg('families');
    // Dependencies first: a simulation needs a persona and a scenario, an attempt a simulation, an eval a rubric.
    const order: ArtifactType[] = ['persona', 'scenario', 'rubric', 'simulation', 'attempt', 'eval'];
    const rest = (Object.keys(FAMILIES) as ArtifactType[]).filter((type) => !order.includes(type));
    for (const type of [...order, ...rest]) {
      const handles = await generate(familyOrg.admin, type, { instructions: [`A realistic ${type} for a CS-180 office-hours practice`] });
      const frames = await watchToEnd(familyOrg.admin, type, handles.run_id);
      const terminal = frames.at(-1)!.data;
      assert.equal(terminal.type, 'GenerationCompleteEvent', `${type}: ${JSON.stringify(terminal)}`);
      const row = await harness.database.db.selectFrom('artifacts').selectAll().where('id', '=', terminal.artifact_id).executeTakeFirstOrThrow();
      assert.equal(row.type, type);
      assert.equal(row.org_id, familyOrg.orgId);
      const parsed = completeData(FAMILIES[type]).safeParse(row.data);
      assert.equal(parsed.success, true, `${type}: ${parsed.error?.message}`);
    }
  });

  test("a generated record's required profile reference is the requester's own: a generated token is never another person's", async () => {
    const tokenOrg = await harness.newOrg('generated-token');
    // The newest profile of the org is a member's; the admin asks.
    const member = await tokenOrg.addProfile('member', 'Lena Learner');
    const handles = await generate(tokenOrg.admin, 'auth', { instructions: ['A token for the nursing course laptop'] });
    const terminal = (await watchToEnd(tokenOrg.admin, 'auth', handles.run_id)).at(-1)!.data;
    assert.equal(terminal.type, 'GenerationCompleteEvent', JSON.stringify(terminal));
    const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', terminal.artifact_id).executeTakeFirstOrThrow();
    assert.equal((row.data as { profile_id: string }).profile_id, tokenOrg.adminProfileId);
    assert.notEqual(tokenOrg.adminProfileId, member.profileId);
  });

  test('a generated attempt plays its simulation: its persona, scenario and rubric, and no more turns than max_turns; turns on it are refused, saying why', async () => {
    const attemptOrg = await harness.newOrg('generated-attempt');
    const create = async (type: ArtifactType, data: Record<string, unknown>) => {
      const created = await attemptOrg.admin.post(`/${type}/create`, { name: `${type} one`, data });
      assert.equal(created.status, 200, created.text);
      return created.body.id as string;
    };
    const personaId = await create('persona', FAMILIES.persona.example as Record<string, unknown>);
    const { image_upload_ids: _images, video_upload_ids: _videos, ...scenario } = FAMILIES.scenario.example as Record<string, unknown>;
    const scenarioId = await create('scenario', scenario);
    const rubricId = await create('rubric', FAMILIES.rubric.example as Record<string, unknown>);
    const simulationId = await create('simulation', { persona_id: personaId, scenario_id: scenarioId, rubric_id: rubricId, modality: 'text', max_turns: 2 });
    // Newer records the simulation does not name: the attempt must not pick them up.
    await create('persona', FAMILIES.persona.example as Record<string, unknown>);
    await create('scenario', scenario);
    // A record the simulation names that has since been deleted is not copied.
    assert.equal((await attemptOrg.admin.post('/rubric/delete', { id: rubricId })).status, 200);

    const handles = await generate(attemptOrg.admin, 'attempt', { instructions: ['A completed attempt, graded'] });
    const terminal = (await watchToEnd(attemptOrg.admin, 'attempt', handles.run_id)).at(-1)!.data;
    assert.equal(terminal.type, 'GenerationCompleteEvent', JSON.stringify(terminal));
    const attempt = await attemptOrg.admin.post('/attempt/get', { id: terminal.artifact_id });
    assert.equal(attempt.body.data.simulation_id, simulationId);
    assert.equal(attempt.body.data.persona_id, personaId);
    assert.equal(attempt.body.data.scenario_id, scenarioId);
    assert.equal(attempt.body.data.rubric_id, undefined);
    assert.equal(attempt.body.data.state, 'completed');
    assert.ok(attempt.body.data.turn_count >= 1 && attempt.body.data.turn_count <= 2, JSON.stringify(attempt.body.data));

    const turn = await attemptOrg.admin.post('/attempt/chat_message', { attempt_id: attempt.body.id, text: 'Hello' });
    assert.equal(turn.status, 409, turn.text);
    const drawn = await attemptOrg.admin.post('/attempt/create', { name: 'Imported', data: { simulation_id: simulationId, state: 'in_progress' } });
    assert.equal(drawn.status, 200, drawn.text);
    const onDrawn = await attemptOrg.admin.post('/attempt/chat_message', { attempt_id: drawn.body.id, text: 'Hello' });
    assert.equal(onDrawn.status, 409, onDrawn.text);
    assert.match(onDrawn.body.error.message, /no conversation: it is a record written directly .*not started with attempt\/start/);
  });

  test('generated identity and model records keep the API\'s own rules: one name, a unique email (a clean error), and a generated model is never the default', async () => {
    const rulesOrg = await harness.newOrg('generated-rules');
    for (const type of ['profile', 'auth'] as const) {
      const handles = await generate(rulesOrg.admin, type, { instructions: [`A ${type} for the nursing course`], config: { params: { count: 2 } } });
      const terminal = (await watchToEnd(rulesOrg.admin, type, handles.run_id)).at(-1)!.data;
      assert.equal(terminal.type, 'GenerationCompleteEvent', JSON.stringify(terminal));
      for (const id of terminal.artifact_ids as string[]) {
        const record = (await rulesOrg.admin.post(`/${type}/get`, { id })).body;
        assert.equal(record.name, record.data.name, `${type}: the record's name is its data.name`);
      }
    }

    const taken = await rulesOrg.admin.post('/profile/create', { name: 'Amara Mensah', email: 'amara.mensah@example.edu', role: 'member' });
    assert.equal(taken.status, 200, taken.text);
    const clash = await generate(rulesOrg.admin, 'profile', { instructions: ['A teacher named Amara Mensah, amara@example.edu'] });
    const [error] = await watchToEnd(rulesOrg.admin, 'profile', clash.run_id);
    assert.equal(error!.data.type, 'GenerationErrorEvent');
    assert.match(error!.data.message, /data\.email: another profile of this org already has this email/);
    assert.doesNotMatch(error!.data.message, /constraint|duplicate key/);

    const model = await generate(rulesOrg.admin, 'model', { instructions: ['The default text model, gpt-4o-mini'] });
    const modelTerminal = (await watchToEnd(rulesOrg.admin, 'model', model.run_id)).at(-1)!.data;
    assert.equal(modelTerminal.type, 'GenerationCompleteEvent', JSON.stringify(modelTerminal));
    const saved = (await rulesOrg.admin.post('/model/get', { id: modelTerminal.artifact_id })).body;
    assert.equal(saved.data.is_default, undefined, 'a generated model is not the default');
    const next = await generate(rulesOrg.admin, 'rubric', { instructions: ['Still offline'], wait_for_complete: true });
    assert.equal(next.status, 'completed', JSON.stringify(next));
    const providerless = await rulesOrg.admin.post('/model/create', { name: 'nowhere', data: { model_name: 'x', purpose: 'text', input_price_per_token: 0, output_price_per_token: 0 } });
    assert.equal(providerless.status, 400, providerless.text);
    assert.match(providerless.body.error.message, /data\.provider_id: is required unless provider_kind is given/);
  });

  test('a family with a required reference the org cannot satisfy ends with an error naming it', async () => {
    const emptyOrg = await harness.newOrg('empty');
    const handles = await generate(emptyOrg.admin, 'simulation', { instructions: ['A voice simulation'] });
    const frames = await watchToEnd(emptyOrg.admin, 'simulation', handles.run_id);
    assert.deepEqual(kinds(frames), ['GenerationErrorEvent']);
    assert.match(frames[0]!.data.message, /persona/);
    assert.equal(frames[0]!.data.success, false);
  });

  test('the trigger validates: unknown fields, nothing to do, count range, foreign group, another profile\'s group, admin-only families', async () => {
    const unknown = await org.admin.post('/persona/generate', { instructions: ['x'], colour: 'blue' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.error.details.unknown_fields, ['colour']);
    const nestedUnknown = await org.admin.post('/persona/generate', { instructions: ['x'], config: { params: { temperature: 2 } } });
    assert.equal(nestedUnknown.status, 400);
    assert.match(nestedUnknown.body.error.message, /config\.params\.temperature/);
    assert.equal((await org.admin.post('/persona/generate', {})).status, 400);
    for (const placeholder of ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']) {
      const shared = await org.admin.post('/persona/generate', { instructions: ['x'], client_run_id: placeholder });
      assert.equal(shared.status, 400, shared.text);
      assert.equal(shared.body.error.message, 'client_run_id: must be a freshly minted UUID, not the nil or max UUID.');
    }
    assert.equal((await org.admin.post('/persona/generate', { instructions: ['x'], config: { params: { count: 11 } } })).status, 400);
    assert.equal((await org.admin.post('/persona/generate', { instructions: ['x'], config: { params: { count: 0 } } })).status, 400);
    assert.equal((await org.admin.post('/persona/generate', { instructions: ['x'], config: { params: { model_id: 'no-such-model' } } })).status, 400);

    const other = await harness.newOrg('other');
    const foreign = await generate(other.admin, 'persona', { instructions: ['Their persona'] });
    assert.equal((await org.admin.post('/persona/generate', { instructions: ['x'], group_id: foreign.group_id })).status, 404);
    assert.equal((await org.admin.post('/persona/generate', { instructions: ['x'], config: { group_id: foreign.group_id } })).status, 404);

    const { client: member } = await org.addProfile('member');
    assert.equal((await member.post('/model/generate', { instructions: ['a model'] })).status, 403);

    // An admin sees a member's group, but adds no run to it: it would be in the member's group
    // stream and search, yet not theirs to see anywhere else.
    const membersGroup = await generate(member, 'persona', { instructions: ['My persona'] });
    const intoMembers = await org.admin.post('/persona/generate', { instructions: ['x'], group_id: membersGroup.group_id });
    assert.equal(intoMembers.status, 403, intoMembers.text);
    assert.match(intoMembers.body.error.message, /another profile's/);
    const runs = await harness.database.db.selectFrom('generation_runs').select('profile_id').where('group_id', '=', membersGroup.group_id).execute();
    assert.deepEqual(runs.map((run) => run.profile_id), [(await member.post('/profile/me', {})).body.profile.id]);
  });

  test('idempotency_key: the same body gets the first response, another body 409, the same body to another family 409', async () => {
    const key = randomUUID();
    const body = { instructions: ['Idempotent persona'], idempotency_key: key };
    const first = await generate(org.admin, 'persona', body);
    assert.equal(first.idempotency_key, key);
    const again = await generate(org.admin, 'persona', { idempotency_key: key, instructions: ['Idempotent persona'] });
    assert.deepEqual(again, first);
    const different = await org.admin.post('/persona/generate', { ...body, instructions: ['Something else'] });
    assert.equal(different.status, 409);
    const otherFamily = await org.admin.post('/scenario/generate', body);
    assert.equal(otherFamily.status, 409, otherFamily.text);
    assert.match(otherFamily.body.error.message, /already used for a persona generation/);
    const runs = await harness.database.db.selectFrom('generation_runs').select('id').where('idempotency_key', '=', key).execute();
    assert.equal(runs.length, 1);
  });

  test('a generated system record is read, found and deleted by an admin (a system is only ever generated); a member is refused', async () => {
    const handles = await generate(org.admin, 'system', { instructions: ['A note about nightly backups'] });
    const frames = await watchToEnd(org.admin, 'system', handles.run_id);
    const saved = frames.find((frame) => frame.data.type === 'GenerationSavedEvent')!.data.artifact_id as string;
    const record = await org.admin.post('/system/get', { id: saved });
    assert.equal(record.status, 200, record.text);
    assert.equal(FAMILIES.system.data.safeParse(record.body.data).success, true);
    assert.ok((await org.admin.post('/system/search', {})).body.items.some((item: { id: string }) => item.id === saved));
    const { client: member } = await org.addProfile('member');
    assert.equal((await member.post('/system/get', { id: saved })).status, 403);
    assert.equal((await org.admin.post('/system/create', { name: 'x', data: {} })).status, 404, 'never written by hand');
    assert.equal((await org.admin.post('/system/delete', { id: saved })).status, 200);
    assert.equal((await org.admin.post('/system/get', { id: saved })).status, 404);
  });

  test('ids in capitals are the same ids: a client_run_id watched and waited for as given, an idempotency key repeated in capitals', async () => {
    const runId = uuidv7().toUpperCase();
    const key = randomUUID().toUpperCase();
    const waiting = openWatch(org.admin, `/persona/watch?run_id=${runId}`);
    const handles = await generate(org.admin, 'persona', { instructions: ['Capital ids'], client_run_id: runId, idempotency_key: key, wait_for_complete: true });
    assert.equal(handles.run_id, runId.toLowerCase());
    assert.equal(handles.status, 'completed', JSON.stringify(handles));
    const watch = await waiting;
    await watch.ended;
    assert.equal(watch.frames.at(-1)!.data.type, 'GenerationCompleteEvent');
    assert.deepEqual(kinds(await watchToEnd(org.admin, 'persona', runId)), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
    const repeated = await generate(org.admin, 'persona', { instructions: ['Capital ids'], client_run_id: runId.toLowerCase(), idempotency_key: key.toLowerCase(), wait_for_complete: true });
    assert.equal(repeated.run_id, handles.run_id);
    const group = await openWatch(org.admin, `/persona/watch?group_id=${handles.group_id.toUpperCase()}&last_event_id=0`);
    assert.equal(group.status, 200);
    await group.until((frame) => frame.data.run_id === handles.run_id && isTerminal(frame));
    group.close();
  });

  test('idempotency_key with client_run_id: concurrent repeats (a retrying client) all get the first response, one run', async () => {
    for (let round = 0; round < 3; round += 1) {
      const body = { instructions: ['Retried persona'], idempotency_key: randomUUID(), client_run_id: uuidv7() };
      const answers = await Promise.all(Array.from({ length: 4 }, () => org.admin.post('/persona/generate', body)));
      assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200], JSON.stringify(answers.map((answer) => answer.body)));
      for (const answer of answers) assert.deepEqual(answer.body, answers[0]!.body);
      assert.equal(answers[0]!.body.run_id, body.client_run_id);
      const runs = await harness.database.db.selectFrom('generation_runs').select('id').where('idempotency_key', '=', body.idempotency_key).execute();
      assert.equal(runs.length, 1);
    }
    // The same client_run_id under another key is still a reuse.
    const reused = await generate(org.admin, 'persona', { instructions: ['Retried persona'], client_run_id: uuidv7() });
    const again = await org.admin.post('/persona/generate', { instructions: ['Retried persona'], client_run_id: reused.run_id, idempotency_key: randomUUID() });
    assert.equal(again.status, 409);
  });

  test('client_run_id: a watch opened before the trigger waits and then streams the run; reuse is 409', async () => {
    const runId = uuidv7();
    const watch = await openWatch(org.admin, `/persona/watch?run_id=${runId}`);
    assert.equal(watch.status, 200);
    const handles = await generate(org.admin, 'persona', { instructions: ['Announced persona'], client_run_id: runId });
    assert.equal(handles.run_id, runId);
    await watch.ended;
    assert.deepEqual(kinds(watch.frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
    const reuse = await org.admin.post('/persona/generate', { instructions: ['Again'], client_run_id: runId });
    assert.equal(reuse.status, 409);
  });

  test('Last-Event-ID (header or query) resumes with no gap and no duplicate; a finished run replays and closes', async () => {
    const handles = await generate(org.admin, 'persona', { instructions: ['Resumable personas'], config: { params: { count: 3 } } });
    const full = await watchToEnd(org.admin, 'persona', handles.run_id);
    assert.equal(full.length, 7);
    const cut = full[2]!.id;
    const resumed = await watchToEnd(org.admin, 'persona', handles.run_id, { 'last-event-id': cut });
    assert.deepEqual(resumed.map((frame) => frame.id), full.slice(3).map((frame) => frame.id));
    assert.deepEqual([...full.slice(0, 3), ...resumed].map((frame) => frame.data), full.map((frame) => frame.data));
    const viaQuery = await openWatch(org.admin, `/persona/watch?run_id=${handles.run_id}&last_event_id=${full[5]!.id}`);
    await viaQuery.ended;
    assert.deepEqual(viaQuery.frames.map((frame) => frame.id), [full[6]!.id]);
    const replay = await watchToEnd(org.admin, 'persona', handles.run_id);
    assert.deepEqual(replay, full);
    // Reconnecting after the terminal event (or past it) has nothing to wait for: 204, which stops an EventSource's retries.
    for (const after of [full[6]!.id, String(Number(full[6]!.id) + 1000)]) {
      const atEnd = await openWatch(org.admin, `/persona/watch?run_id=${handles.run_id}`, { 'last-event-id': after });
      atEnd.close();
      assert.equal(atEnd.status, 204, `a stream resumed after the terminal event (${after})`);
    }
    assert.equal((await org.admin.get(`/persona/watch?run_id=${handles.run_id}&last_event_id=abc`)).status, 400);
    // Ahead of every event ever sent, on a stream still to come (a group's, a run not triggered yet): later events would be skipped.
    for (const path of [`/persona/watch?group_id=${handles.group_id}`, `/persona/watch?run_id=${randomUUID()}`]) {
      const ahead = await org.admin.get(`${path}&last_event_id=${Number(full[6]!.id) + 1_000_000}`);
      assert.equal(ahead.status, 400, `${path}: ${ahead.text}`);
      assert.match(ahead.body.error.message, /is ahead of every event this server has sent/);
    }
    // An empty position is no position, in the query as in the header: the whole run.
    const emptyQuery = await openWatch(org.admin, `/persona/watch?run_id=${handles.run_id}&last_event_id=`);
    await emptyQuery.ended;
    assert.deepEqual(emptyQuery.frames.map((frame) => frame.id), full.map((frame) => frame.id));
  });

  test('a group stream multiplexes the runs of the group and stays open', async () => {
    const first = await generate(org.admin, 'scenario', { instructions: ['Office hours after a failed midterm'] });
    const watch = await openWatch(org.admin, `/scenario/watch?group_id=${first.group_id}`);
    assert.equal(watch.status, 200);
    const second = await generate(org.admin, 'scenario', { instructions: ['A late-night lab'], group_id: first.group_id });
    assert.equal(second.group_id, first.group_id);
    await watch.until((frame) => frame.data.run_id === first.run_id && isTerminal(frame));
    await watch.until((frame) => frame.data.run_id === second.run_id && isTerminal(frame));
    for (const runId of [first.run_id, second.run_id]) {
      assert.deepEqual(kinds(watch.frames.filter((frame) => frame.data.run_id === runId)), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
    }
    const ids = watch.frames.map((frame) => Number(frame.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    // Still open after both terminals: a third run in the group arrives on the same stream.
    const third = await generate(org.admin, 'scenario', { instructions: ['A third'], config: { group_id: first.group_id } });
    await watch.until((frame) => frame.data.run_id === third.run_id && isTerminal(frame));
    watch.close();
  });

  test('the group window: a session\'s triggers share a group, another session gets its own, an idle group closes, activity is refreshed every 10 to 20 s', async () => {
    const member = await org.addProfile('member', 'Window tester');
    const body = { instructions: ['A shy student in a group project'] };
    // Concurrent triggers of one session (batched and alone: an idempotency key takes the single path) land in one group.
    const together = await Promise.all([
      ...Array.from({ length: 5 }, () => generate(member.client, 'persona', body)),
      generate(member.client, 'persona', { ...body, idempotency_key: uuidv7() }),
    ]);
    const groupId = together[0]!.group_id;
    assert.deepEqual(new Set(together.map((handles) => handles.group_id)), new Set([groupId]));
    const otherSession = member.client.withToken((await member.client.post('/auth/create', { profile_id: member.profileId })).body.token);
    assert.notEqual((await generate(otherSession, 'persona', body)).group_id, groupId);
    assert.notEqual((await generate(member.client, 'rubric', body)).group_id, groupId, 'each family has its own window');

    const activityOf = async (id: string) =>
      (await harness.database.db.selectFrom('generation_groups').select('last_activity_at').where('id', '=', id).executeTakeFirstOrThrow()).last_activity_at as unknown as Date;
    const setActivity = (id: string, secondsAgo: number) =>
      harness.database.executeSql(`UPDATE generation_groups SET last_activity_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, secondsAgo]);
    // Refreshed 3 s ago: a trigger joins the group without rewriting it.
    await setActivity(groupId, 3);
    const recent = await activityOf(groupId);
    assert.equal((await generate(member.client, 'persona', body)).group_id, groupId);
    assert.equal((await activityOf(groupId)).getTime(), recent.getTime());
    // Refreshed 25 s ago (past 10 s and its spread of up to 10 s more): the trigger moves it to now.
    await setActivity(groupId, 25);
    const before = Date.now();
    assert.equal((await generate(member.client, 'persona', body)).group_id, groupId);
    assert.ok((await activityOf(groupId)).getTime() >= before - 5_000, 'the activity was refreshed');
    // At the window's edge (closing within 10 s, too late for the lock-free join), the trigger still joins it and refreshes it.
    await setActivity(groupId, harness.config.GLOW_GROUP_WINDOW_MINUTES * 60 - 5);
    const atEdge = Date.now();
    assert.equal((await generate(member.client, 'persona', body)).group_id, groupId);
    assert.ok((await activityOf(groupId)).getTime() >= atEdge - 5_000, 'the activity was refreshed at the edge');
    // Idle longer than the window: the next trigger opens a new group.
    await setActivity(groupId, harness.config.GLOW_GROUP_WINDOW_MINUTES * 60 + 1);
    const reopened = await generate(member.client, 'persona', body);
    assert.notEqual(reopened.group_id, groupId);
    assert.equal((await generate(member.client, 'persona', { ...body, idempotency_key: uuidv7() })).group_id, reopened.group_id);
  });

  test('a group deleted by hand takes its runs and their messages with it; other groups keep theirs', async () => {
    const member = await org.addProfile('member', 'Deleted group tester');
    const doomed = await generate(member.client, 'persona', { instructions: ['A student whose group is deleted'] });
    const kept = await generate(member.client, 'rubric', { instructions: ['A rubric whose group stays'] });
    await watchToEnd(member.client, 'persona', doomed.run_id);
    await watchToEnd(member.client, 'rubric', kept.run_id);
    const count = async (table: string, groupId: string) =>
      (await harness.database.executeSql(`SELECT count(*)::int AS n FROM ${table} WHERE group_id = $1`, [groupId])).rows[0].n as number;
    assert.ok((await count('generation_messages', doomed.group_id)) > 0, 'the run wrote its messages');
    await harness.database.executeSql('DELETE FROM generation_groups WHERE id = $1', [doomed.group_id]);
    assert.equal(await count('generation_runs', doomed.group_id), 0);
    assert.equal(await count('generation_messages', doomed.group_id), 0);
    assert.equal(await count('generation_runs', kept.group_id), 1);
    assert.ok((await count('generation_messages', kept.group_id)) > 0);
  });

  test('a group row held by another transaction: a trigger joins the group without waiting, and leaves the refresh to the holder', async (context) => {
    if (harness.backend !== 'postgres') {
      context.skip('needs a second connection to hold the group row: PGlite has one');
      return;
    }
    const member = await org.addProfile('member', 'Held group tester');
    const body = { instructions: ['A student who sits at the back'] };
    const { group_id: groupId } = await generate(member.client, 'persona', body);
    await harness.database.executeSql(`UPDATE generation_groups SET last_activity_at = now() - interval '60 seconds' WHERE id = $1`, [groupId]);
    const activity = async () =>
      ((await harness.database.executeSql(`SELECT last_activity_at FROM generation_groups WHERE id = $1`, [groupId])).rows[0].last_activity_at as Date).getTime();
    const stale = await activity();
    let release = () => {};
    let held = () => {};
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    // What a concurrent trigger refreshing the same group holds until it commits: an uncommitted
    // update of the row (here one that leaves the activity as it was).
    const holding = harness.database.db.transaction().execute(async (trx) => {
      await sql`UPDATE generation_groups SET last_activity_at = last_activity_at WHERE id = ${groupId}`.execute(trx);
      held();
      await released;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await isHeld;
      const joined = await Promise.race([
        generate(member.client, 'persona', body),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the trigger waited for the held group row')), 10_000))),
      ]);
      assert.equal(joined.group_id, groupId);
      assert.equal(await activity(), stale, 'the held row was skipped, not refreshed');
    } finally {
      clearTimeout(timer);
      release();
      await holding;
    }
    assert.equal((await generate(member.client, 'persona', body)).group_id, groupId);
    assert.ok((await activity()) > stale, 'once released, the next trigger refreshes it');
  });

  test('a burst larger than the worker slots: jobs carry several runs, every run completes once, never more at a time than GLOW_WORKERS', async () => {
    const slots = harness.config.GLOW_WORKERS;
    const burst = await Promise.all(Array.from({ length: 24 }, (_, index) => generate(org.admin, 'persona', { instructions: [`Burst student ${index}`] })));
    const runIds = burst.map((handles) => handles.run_id);
    const streams = await Promise.all(runIds.map((runId) => watchToEnd(org.admin, 'persona', runId)));
    for (const frames of streams) {
      assert.deepEqual(kinds(frames).filter((kind) => kind.startsWith('Generation') && kind !== 'GenerationProgressEvent'), ['GenerationSavedEvent', 'GenerationCompleteEvent']);
    }
    const runs = await harness.database.db.selectFrom('generation_runs').select(['status', 'attempts', 'started_at', 'ended_at']).where('id', 'in', runIds).execute();
    assert.deepEqual(new Set(runs.map((run) => `${run.status}/${run.attempts}`)), new Set(['completed/1']));
    const jobs: { rows: { data: { run_ids: string[] } }[] } = await harness.database.executeSql(
      `SELECT data FROM pgboss.job WHERE name = 'glow-generation-run' AND data->'run_ids' ?| $1::text[]`,
      [runIds],
    );
    assert.ok(jobs.rows.every((job) => job.data.run_ids.length <= RUNS_PER_JOB));
    assert.deepEqual(new Set(jobs.rows.flatMap((job) => job.data.run_ids)), new Set(runIds), 'every run was in a job');
    assert.ok(jobs.rows.some((job) => job.data.run_ids.length > 1), 'concurrent triggers share jobs');
    // A run holds its slot from before its claim (started_at) to after its end (ended_at): no more
    // runs than slots may have been between the two at the moment any of them was claimed.
    const spans = runs.map((run) => [new Date(run.started_at!).getTime(), new Date(run.ended_at!).getTime()] as const);
    const busiest = Math.max(...spans.map(([claimed]) => spans.filter(([start, end]) => start <= claimed && claimed < end).length));
    assert.ok(busiest <= slots, `${busiest} runs were executing at once on ${slots} slots`);
  });

  test('generations: search, date window, exact total_count, members see their own, admins the org', async () => {
    const scoped = await harness.newOrg('scope');
    const alice = await scoped.addProfile('member', 'Alice');
    const bob = await scoped.addProfile('member', 'Bob');
    // Each token is a session, and each session has its own group window.
    const aliceSecond = await alice.client.post('/auth/create', { profile_id: alice.profileId });
    const aliceAgain = alice.client.withToken(aliceSecond.body.token);
    await generate(alice.client, 'persona', { instructions: ['Confused sophomore'] });
    await generate(aliceAgain, 'persona', { instructions: ['Confident senior'] });
    await generate(bob.client, 'persona', { instructions: ['Confused transfer student'] });
    await generate(alice.client, 'rubric', { instructions: ['Not a persona group'] });

    const aliceOwn = await alice.client.post('/persona/generations', {});
    assert.equal(aliceOwn.status, 200);
    assert.equal(aliceOwn.body.total_count, 2);
    assert.deepEqual(aliceOwn.body.items.map((item: any) => item.group_name), ['Confident senior', 'Confused sophomore']);
    for (const item of aliceOwn.body.items) assert.deepEqual(Object.keys(item).sort(), ['created_at', 'group_id', 'group_name', 'profile_id', 'session_id']);
    assert.deepEqual(aliceOwn.body.items.map((item: any) => item.profile_id), [alice.profileId, alice.profileId]);

    const adminView = await scoped.admin.post('/persona/generations', {});
    assert.equal(adminView.body.total_count, 3);
    // The admin's view says whose each group is.
    assert.deepEqual(adminView.body.items.map((item: any) => item.profile_id), [bob.profileId, alice.profileId, alice.profileId]);
    const searched = await scoped.admin.post('/persona/generations', { search: 'confused', page_limit: 1 });
    assert.equal(searched.body.total_count, 2);
    assert.equal(searched.body.items.length, 1);
    const page2 = await scoped.admin.post('/persona/generations', { search: 'confused', page_limit: 1, page_offset: 1 });
    assert.notEqual(page2.body.items[0].group_id, searched.body.items[0].group_id);
    // A later run that joined Bob's group (same session, inside the window) is found by its own instructions.
    const joined = await generate(bob.client, 'persona', { instructions: ['Anxious nursing student'] });
    const byLaterRun = await scoped.admin.post('/persona/generations', { search: 'NURSING' });
    assert.deepEqual(byLaterRun.body.items.map((item: any) => item.group_id), [joined.group_id]);
    assert.equal(byLaterRun.body.items[0].group_name, 'Confused transfer student');
    assert.equal((await scoped.admin.post('/persona/generations', { search: 'instructions' })).body.total_count, 0, 'field names are not searched');
    assert.equal((await scoped.admin.post('/persona/generations', { search: '["' })).body.total_count, 0, 'the JSON of the list is not searched');
    const quoted = await generate(bob.client, 'persona', { instructions: ['Says "fine" to everything'] });
    assert.deepEqual((await scoped.admin.post('/persona/generations', { search: 'says "fine"' })).body.items.map((item: any) => item.group_id), [quoted.group_id]);

    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    assert.equal((await scoped.admin.post('/persona/generations', { date_from: today, date_to: today })).body.total_count, 3);
    assert.equal((await scoped.admin.post('/persona/generations', { date_from: tomorrow })).body.total_count, 0);
    assert.equal((await scoped.admin.post('/persona/generations', { date_to: yesterday })).body.total_count, 0);
    for (const loose of ['not a date', '1', '12/03/2026', '2026-02-30', '2026-12-03T25:00:00Z']) {
      const refused = await scoped.admin.post('/persona/generations', { date_from: loose });
      assert.equal(refused.status, 400, `${loose}: ${refused.text}`);
      assert.match(refused.body.error.message, /date_from: must be a real ISO 8601 date/);
    }
    // A date-time without an offset is UTC, whatever the server's zone: the groups made in the last
    // minutes are after a UTC instant an hour back, and none are after one an hour ahead.
    const utc = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 19);
    assert.equal((await scoped.admin.post('/persona/generations', { date_from: utc(-3_600_000) })).body.total_count, 3);
    assert.equal((await scoped.admin.post('/persona/generations', { date_from: utc(3_600_000) })).body.total_count, 0);
    const backwards = await scoped.admin.post('/persona/generations', { date_from: tomorrow, date_to: yesterday });
    assert.equal(backwards.status, 400, backwards.text);
    assert.match(backwards.body.error.message, /date_to/);
    assert.equal((await scoped.admin.post('/persona/generations', { date_from: `${today}T12:00:00Z`, date_to: today })).status, 200, 'a bare date_to is the end of its day');
    assert.equal((await scoped.admin.post('/persona/generations', { page_limit: 0 })).status, 400);
  });

  test('group detail: runs with model_id offline, tokens, cost, and (include_detail) system/user/assistant messages; invisible groups are 404', async () => {
    const { client: member } = await org.addProfile('member');
    const handles = await generate(member, 'persona', { instructions: ['Detail persona'] });
    await watchToEnd(member, 'persona', handles.run_id);
    const summary = await member.post('/system/group', { group_id: handles.group_id });
    assert.equal(summary.status, 200, summary.text);
    assert.equal(summary.body.runs.length, 1);
    const run = summary.body.runs[0];
    assert.equal(run.id, handles.run_id);
    assert.equal(run.status, 'completed');
    assert.equal(run.model_id, 'offline');
    assert.equal(run.input_tokens, 0);
    assert.equal(run.output_tokens, 0);
    assert.equal(run.cost, 0);
    assert.deepEqual(run.messages, []);

    const detail = await member.post('/persona/group', { group_id: handles.group_id, include_detail: true });
    const messages = detail.body.runs[0].messages;
    assert.deepEqual(messages.map((message: any) => message.role), ['system', 'user', 'assistant']);
    assert.match(messages[1].text, /Detail persona/);
    for (const message of messages) {
      for (const field of ['text_upload_ids', 'audio_upload_ids', 'image_upload_ids', 'video_upload_ids', 'file_upload_ids']) assert.deepEqual(message[field], []);
    }
    // The run ended after its last message was recorded (the ending transaction writes them).
    for (const message of messages) assert.ok(message.created_at <= detail.body.runs[0].ended_at, `${message.created_at} <= ${detail.body.runs[0].ended_at}`);
    const late = await harness.database.db
      .selectFrom('generation_messages as m')
      .innerJoin('generation_runs as r', 'r.id', 'm.run_id')
      .select('m.role')
      .where('r.id', '=', handles.run_id)
      .whereRef('m.created_at', '>', 'r.ended_at')
      .execute();
    assert.deepEqual(late, []);
    const paged = await member.post('/system/group', { group_id: handles.group_id, include_detail: true, message_limit: 1, message_offset: 1 });
    assert.deepEqual(paged.body.runs[0].messages.map((message: any) => message.role), ['user']);
    assert.equal(paged.body.message_total_count, 3);

    const { client: otherMember } = await org.addProfile('member');
    assert.equal((await otherMember.post('/system/group', { group_id: handles.group_id })).status, 404);
    assert.equal((await org.admin.post('/system/group', { group_id: handles.group_id })).status, 200);
    const stranger = await harness.newOrg('stranger');
    assert.equal((await stranger.admin.post('/system/group', { group_id: handles.group_id })).status, 404);
    // Another's run is watched as an id nobody triggered: the stream opens and waits, telling nothing.
    for (const [client, runId] of [[stranger.admin, handles.run_id], [otherMember, handles.run_id], [otherMember, randomUUID()]] as const) {
      const hidden = await openWatch(client, `/persona/watch?run_id=${runId}`);
      assert.equal(hidden.status, 200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(hidden.frames, []);
      hidden.close();
    }
    assert.equal((await otherMember.get(`/persona/watch?group_id=${handles.group_id}`)).status, 404);
    // Another family's watch does not find this family's run, as its cancel does not.
    assert.equal((await member.get(`/scenario/watch?run_id=${handles.run_id}`)).status, 404);
  });

  test('a configured provider model: the model artifact is saved with its token counts and cost', async () => {
    fake.reset();
    const handles = await generate(org.admin, 'persona', { instructions: ['From the fake model'], config: { params: { model_id: fakeModelId } } });
    const frames = await watchToEnd(org.admin, 'persona', handles.run_id);
    assert.equal(frames.at(-1)!.data.type, 'GenerationCompleteEvent', JSON.stringify(frames.at(-1)!.data));
    const record = await org.admin.post('/persona/get', { id: frames.at(-1)!.data.artifact_id });
    assert.deepEqual(record.body.data, FAMILIES.persona.example);
    const detail = await org.admin.post('/system/group', { group_id: handles.group_id, include_detail: true });
    const run = detail.body.runs.find((item: any) => item.id === handles.run_id);
    assert.equal(run.model_id, fakeModelId);
    assert.equal(run.input_tokens, 120);
    assert.equal(run.output_tokens, 80);
    assert.ok(Math.abs(run.cost - (120 * 0.000001 + 80 * 0.000002)) < 1e-9);
    assert.ok(fake.requests.length >= 1);
  });

  test("a provider naming one of the server's own secrets (or the instance key with another base_url) is refused, and nothing is sent", async () => {
    fake.reset();
    const keyOrg = await harness.newOrg('provider-keys');
    process.env.GLOW_NOT_LISTED_SECRET = 'must-not-leave';
    const cases = [
      { data: { kind: 'openai_compatible', base_url: fake.url, api_key_env: 'GLOW_ADMIN_TOKEN' }, says: /GLOW_ADMIN_TOKEN is not one this server hands to model providers.*GLOW_PROVIDER_KEY_ENVS/ },
      { data: { kind: 'openai_compatible', base_url: fake.url, api_key_env: 'GLOW_NOT_LISTED_SECRET' }, says: /GLOW_NOT_LISTED_SECRET is not one/ },
      { data: { kind: 'openai', base_url: fake.url, api_key_env: 'OPENAI_API_KEY' }, says: /OPENAI_API_KEY is sent only to the endpoint it was set for/ },
    ];
    try {
      for (const { data, says } of cases) {
        const provider = await keyOrg.admin.post('/provider/create', { name: `p ${data.api_key_env}`, data });
        assert.equal(provider.status, 200, provider.text);
        const model = await keyOrg.admin.post('/model/create', {
          name: 'm', data: { provider_id: provider.body.id, model_name: 'x', purpose: 'text', input_price_per_token: 0, output_price_per_token: 0 },
        });
        assert.equal(model.status, 200, model.text);
        const refused = await keyOrg.admin.post('/persona/generate', { instructions: ['x'], config: { params: { model_id: model.body.id } } });
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.error.details.field, 'config.params.model_id');
        assert.match(refused.body.error.message, says);
      }
      const runs = await harness.database.db.selectFrom('generation_runs').select('id').where('org_id', '=', keyOrg.orgId).execute();
      assert.equal(runs.length, 0);
      assert.equal(fake.requests.length, 0);
    } finally {
      delete process.env.GLOW_NOT_LISTED_SECRET;
    }
  });

  test('every family generates through the provider (fake model), passing its schema', async () => {
    fake.reset();
    const familyOrg = await harness.newOrg('provider-families');
    const { modelIds: [familyModelId] } = await configureFakeModels(familyOrg.admin, fake.url, apiKeyEnv, [{ purpose: 'text', modelName: 'fake-1' }]);
    const order: ArtifactType[] = ['persona', 'scenario', 'rubric', 'simulation', 'attempt', 'eval'];
    const rest = (Object.keys(FAMILIES) as ArtifactType[]).filter((type) => !order.includes(type) && type !== 'profile');
    for (const type of [...order, ...rest]) {
      const handles = await generate(familyOrg.admin, type, { instructions: [`A ${type}`], config: { params: { model_id: familyModelId } } });
      const frames = await watchToEnd(familyOrg.admin, type, handles.run_id);
      const terminal = frames.at(-1)!.data;
      assert.equal(terminal.type, 'GenerationCompleteEvent', `${type}: ${JSON.stringify(terminal)}`);
      const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', terminal.artifact_id).executeTakeFirstOrThrow();
      assert.equal(completeData(FAMILIES[type]).safeParse(row.data).success, true, type);
    }
  });

  test("a reference the family's rules require (a department setting's department_id) is pointed at the org's department when the model invents one, or the run names it", async () => {
    fake.reset();
    const settingOrg = await harness.newOrg('provider-setting');
    const { modelIds: [settingModelId] } = await configureFakeModels(settingOrg.admin, fake.url, apiKeyEnv, [{ purpose: 'text', modelName: 'fake-1' }]);
    const scoped = { ...(FAMILIES.setting.example as Record<string, unknown>), scope: 'department', department_id: randomUUID() };
    const ask = async () => {
      fake.enqueue({ reply: { name: 'Department retention', description: 'Retention for one department.', data: scoped } });
      const handles = await generate(settingOrg.admin, 'setting', { instructions: ['Keep transcripts 180 days in one department'], config: { params: { model_id: settingModelId } } });
      return (await watchToEnd(settingOrg.admin, 'setting', handles.run_id)).at(-1)!.data;
    };
    const without = await ask();
    assert.equal(without.type, 'GenerationErrorEvent', JSON.stringify(without));
    assert.match(String(without.message), /data\.department_id needs a published department in this org/);

    const department = await settingOrg.admin.post('/department/create', { name: 'Nursing', data: { ...(FAMILIES.department.example as Record<string, unknown>), head_profile_id: settingOrg.adminProfileId } });
    assert.equal(department.status, 200, department.text);
    const terminal = await ask();
    assert.equal(terminal.type, 'GenerationCompleteEvent', JSON.stringify(terminal));
    const saved = await settingOrg.admin.post('/setting/get', { id: terminal.artifact_id });
    assert.equal(saved.body.data.scope, 'department');
    assert.equal(saved.body.data.department_id, department.body.id);
  });

  test('a model that returns garbage every time: error event, raw text in the group detail, nothing saved', async () => {
    fake.reset();
    const garbage = 'I am sorry, I cannot produce JSON today. <<<garbage-marker-42>>>';
    fake.setDefault({ reply: garbage });
    try {
      const before = (await org.admin.post('/persona/search', {})).body.total_count;
      const handles = await generate(org.admin, 'persona', { instructions: ['Garbage in'], config: { params: { model_id: fakeModelId } } });
      const frames = await watchToEnd(org.admin, 'persona', handles.run_id);
      assert.deepEqual(kinds(frames), ['GenerationErrorEvent']);
      assert.equal(frames[0]!.data.resource_type, 'persona');
      assert.equal(frames[0]!.data.success, false);
      const detail = await org.admin.post('/system/group', { group_id: handles.group_id, include_detail: true });
      const run = detail.body.runs.find((item: any) => item.id === handles.run_id);
      assert.equal(run.status, 'error');
      assert.match(run.error, /did not produce a valid persona in 3 replies/);
      assert.equal(run.error, frames[0]!.data.message);
      assert.ok(run.messages.some((message: any) => message.role === 'assistant' && message.text.includes('garbage-marker-42')));
      // A caller that waited learns how it ended from the response itself.
      const waited = await generate(org.admin, 'persona', { instructions: ['Garbage again'], config: { params: { model_id: fakeModelId } }, wait_for_complete: true });
      assert.equal(waited.status, 'error');
      assert.match(waited.message!, /did not produce a valid persona/);
      assert.equal((await org.admin.post('/persona/search', {})).body.total_count, before);
    } finally {
      fake.reset();
    }
  });

  test('the trigger answers before the model does; cancel aborts the model call and ends the run with a cancelled error; a finished run is 409', async () => {
    fake.reset();
    fake.setDefault({ hang: true });
    try {
      const handles = await generate(org.admin, 'persona', { instructions: ['Never answered'], config: { params: { model_id: fakeModelId } } });
      // The trigger has answered while the model call hangs: fire-and-return does not wait for the model.
      await eventually('the model request', () => (fake.requests.some((request) => request.path.includes('chat/completions')) ? true : undefined));
      const watch = await openWatch(org.admin, `/persona/watch?run_id=${handles.run_id}`);
      const cancelled = await org.admin.post('/persona/cancel', { run_id: handles.run_id });
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.body.status, 'cancelling');
      await watch.ended;
      assert.deepEqual(kinds(watch.frames), ['GenerationErrorEvent']);
      assert.match(watch.frames[0]!.data.message, /cancel/i);
      const again = await org.admin.post('/persona/cancel', { run_id: handles.run_id });
      assert.equal(again.status, 409);
      const detail = await org.admin.post('/system/group', { group_id: handles.group_id });
      assert.equal(detail.body.runs.find((run: any) => run.id === handles.run_id).status, 'cancelled');
      assert.match(detail.body.runs.find((run: any) => run.id === handles.run_id).error, /cancel/i);
    } finally {
      fake.reset();
    }
    const done = await generate(org.admin, 'persona', { instructions: ['Done already'], wait_for_complete: true });
    assert.equal((await org.admin.post('/persona/cancel', { run_id: done.run_id })).status, 409);
    assert.equal((await org.admin.post('/persona/cancel', { run_id: randomUUID() })).status, 404);
    const elsewhere = await org.admin.post('/scenario/cancel', { run_id: done.run_id });
    assert.equal(elsewhere.status, 404, 'a persona run cancelled through /scenario/cancel');
    assert.match(elsewhere.body.error.message, /scenario run .* was not found/);
  });

  test('a wait_for_complete trigger stops counting as a request being served once it waits for its run (runs are not held back for it)', async () => {
    fake.reset();
    fake.setDefault({ hang: true });
    const foreground = harness.app.services.foreground;
    try {
      const modelCalls = fake.requests.length;
      const waiting = generate(org.admin, 'persona', { instructions: ['Waited for'], config: { params: { model_id: fakeModelId } }, wait_for_complete: true });
      await eventually('the model request', () => (fake.requests.length > modelCalls ? true : undefined));
      await eventually('nothing counted as being served', () => (foreground.quiet ? true : undefined));
      const run = await harness.database.db.selectFrom('generation_runs').select(['id', 'status']).where('status', '=', 'running').where('org_id', '=', org.orgId).executeTakeFirstOrThrow();
      // A request that is still being answered counts: the cancel's own, until its head is written.
      const cancelled = await org.admin.post('/persona/cancel', { run_id: run.id });
      assert.equal(cancelled.status, 200, cancelled.text);
      const ended = await waiting;
      assert.equal(ended.status, 'cancelled');
      assert.match(ended.message!, /cancel/i);
    } finally {
      fake.reset();
    }
  });

  test('wait_for_complete blocks until the run ended', async () => {
    const handles = await generate(org.admin, 'tool', { instructions: ['A calculator tool'], wait_for_complete: true });
    const run = await harness.database.db.selectFrom('generation_runs').select(['status', 'terminal_event_seq']).where('id', '=', handles.run_id).executeTakeFirstOrThrow();
    assert.equal(run.status, 'completed');
    assert.ok(run.terminal_event_seq);
    assert.equal(handles.status, 'completed');
    assert.match(handles.message!, /Saved/);
    const detail = await org.admin.post('/system/group', { group_id: handles.group_id });
    assert.equal(detail.body.runs.find((item: any) => item.id === handles.run_id).error, null);
    // Without wait_for_complete the answer comes first, so it says nothing of the end.
    const fired = await generate(org.admin, 'tool', { instructions: ['Another tool'] });
    assert.deepEqual(Object.keys(fired).sort(), ['group_id', 'produced_media', 'run_id']);
  });

  test('an event written inside a transaction is announced only after its commit, and never if the transaction rolls back', async () => {
    const { database } = harness;
    const heard: number[] = [];
    const unlisten = await database.listen(EVENTS_CHANNEL, (payload) => {
      const notification = parseNotification(payload);
      if (notification) heard.push(notification.seq);
    });
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const envelope = () => ({ orgId: org.orgId, groupId: uuidv7(), runId: uuidv7(), artifactType: 'persona' as const });
    try {
      const doomed = envelope();
      let doomedSeq = 0;
      await assert.rejects(
        database.db.transaction().execute(async (trx) => {
          [{ seq: doomedSeq }] = await appendEvents(database, trx, [errorEvent(doomed, 'persona', doomed.runId, 'rolled back')]);
          // On PostgreSQL the notifier's visibility checks run meanwhile (on PGlite they wait for the one connection).
          await pause(150);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      const kept = envelope();
      let keptSeq = 0;
      await database.db.transaction().execute(async (trx) => {
        [{ seq: keptSeq }] = await appendEvents(database, trx, [errorEvent(kept, 'persona', kept.runId, 'committed')]);
        await pause(150);
        assert.ok(!heard.includes(keptSeq), 'announced before its transaction committed');
      });
      await eventually('the committed event is announced', () => heard.includes(keptSeq) || undefined);
      await pause(600); // over twice the notifier's longest wait between checks of an unseen event
      assert.ok(doomedSeq > 0 && !heard.includes(doomedSeq), 'a rolled-back event was announced');
    } finally {
      await unlisten();
    }
  });

  describe('durable runs', () => {
    /**
     * A run with no live job: by default one whose worker died mid-run (running, lease expired);
     * `queued` is one whose claim failed (still queued, created long ago, its job gone).
     */
    /** A run left by a dead worker: running with an expired lease, queued with its job gone 11 minutes ago, or just queued with no job. */
    async function insertOrphanRun(owner: TestOrg, attempts: number, state: 'running' | 'queued' | 'just queued' = 'running'): Promise<{ groupId: string; runId: string }> {
      const db = harness.database.db;
      const session = await db.selectFrom('api_tokens').select('id').where('profile_id', '=', owner.adminProfileId).executeTakeFirstOrThrow();
      const groupId = uuidv7();
      const runId = uuidv7();
      await db.insertInto('generation_groups').values({ id: groupId, org_id: owner.orgId, artifact_type: 'persona', profile_id: owner.adminProfileId, session_id: session.id, name: 'orphaned' }).execute();
      const lost =
        state === 'running'
          ? { status: 'running' as const, lease_owner: 'dead-worker', lease_expires_at: new Date(Date.now() - 60_000) }
          : { status: 'queued' as const, created_at: new Date(Date.now() - (state === 'queued' ? 11 * 60_000 : 0)) };
      await db
        .insertInto('generation_runs')
        .values({
          id: runId, group_id: groupId, org_id: owner.orgId, artifact_type: 'persona', profile_id: owner.adminProfileId, session_id: session.id,
          request: JSON.stringify({ body: {}, instructions: ['Orphaned persona'], count: 1, modalities: ['text'] }), request_hash: 'x', attempts, ...lost,
        })
        .execute();
      return { groupId, runId };
    }

    test('a run whose worker died (lease expired) is taken over and ends exactly once; a stale worker\'s late write is rejected', async () => {
      const { runId, groupId } = await insertOrphanRun(org, 1);
      const frames = await watchToEnd(org.admin, 'persona', runId);
      assert.deepEqual(kinds(frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
      const run = await harness.database.db.selectFrom('generation_runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
      assert.equal(run.status, 'completed');
      assert.equal(run.attempts, 2);
      const stale = await endRun(harness.database, run, 'error', { owner: 'dead-worker' }, errorEvent({ orgId: org.orgId, groupId, runId, artifactType: 'persona' }, 'persona', runId, 'late'));
      assert.equal(stale, false);
      const anyone = await endRun(harness.database, run, 'error', { expiredOrQueued: true }, errorEvent({ orgId: org.orgId, groupId, runId, artifactType: 'persona' }, 'persona', runId, 'late'));
      assert.equal(anyone, false);
      const replay = await watchToEnd(org.admin, 'persona', runId);
      assert.equal(replay.filter(isTerminal).length, 1);
    });

    test('each claim holds a lease of its own: an execution whose lease was taken over is fenced out, even by a new claim from the same process', async () => {
      const db = harness.database.db;
      const { runId } = await insertOrphanRun(org, 0);
      const [first] = await claimRuns(db, [runId], 'one-process', 30_000);
      assert.ok(first, 'the orphaned run could not be claimed');
      // Its lease lapses (the process stalled) and the same process claims the run again.
      await db.updateTable('generation_runs').set({ lease_expires_at: new Date(Date.now() - 1000) }).where('id', '=', runId).execute();
      const [second] = await claimRuns(db, [runId], 'one-process', 30_000);
      assert.ok(second, 'the lapsed run could not be claimed again');
      assert.match(first.lease_owner!, /^one-process\//);
      assert.notEqual(second.lease_owner, first.lease_owner);
      assert.equal(await renewLease(db, runId, first.lease_owner!, 30_000), false, 'the stale execution renewed its lease');
      assert.equal(await finishRun(db, runId, 'completed', { owner: first.lease_owner! }), false, 'the stale execution ended the run');
      assert.equal(await finishRun(db, runId, 'completed', { owner: second.lease_owner! }), true);
    });

    test('a run left queued with its job gone (its claim failed while the database was away) is enqueued again and completes', async () => {
      const { runId } = await insertOrphanRun(org, 0, 'queued');
      const frames = await watchToEnd(org.admin, 'persona', runId);
      assert.deepEqual(kinds(frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
      const run = await harness.database.db.selectFrom('generation_runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
      assert.equal(run.status, 'completed');
      assert.equal(run.attempts, 1);
    });

    /**
     * A run queue of its own (a pg-boss queue name no server works) and a handler that records each
     * run it is given and holds it until the test finishes it; close() finishes them all and stops.
     */
    async function testQueue() {
      const name = `glow-test-queue-${randomUUID()}`;
      const queue = new RunQueue(harness.database, name);
      await queue.start();
      const started: string[] = [];
      const finish = new Map<string, () => void>();
      const handler = (runId: string) =>
        new Promise<void>((resolve) => {
          started.push(runId);
          finish.set(runId, resolve);
        });
      const jobsOf = async () =>
        (await harness.database.executeSql('SELECT id, state, data FROM pgboss.job WHERE name = $1', [name])).rows as { id: string; state: string; data: { run_ids: string[] } }[];
      const close = async () => {
        for (const resolve of finish.values()) resolve();
        await queue.stop();
      };
      return { queue, started, finish, handler, jobsOf, close };
    }

    test('the run queue: jobs wait for a quiet moment; runs beyond the free slots wait here, held, and take the next free slots; a job completes with its last run; stopping hands waiting runs back', async () => {
      const { queue, started, finish, handler, jobsOf, close } = await testQueue();
      const held: string[][] = [];
      const runIds = Array.from({ length: RUNS_PER_JOB + 3 }, () => randomUUID());
      try {
        // A burst of RUNS_PER_JOB runs (one job), then three more (another job).
        await harness.database.db.transaction().execute((trx) => queue.enqueueMany(runIds.slice(0, RUNS_PER_JOB), trx));
        await harness.database.db.transaction().execute((trx) => queue.enqueueMany(runIds.slice(RUNS_PER_JOB), trx));
        const jobs = await jobsOf();
        assert.deepEqual(jobs.map((job) => job.data.run_ids.length).sort(), [3, RUNS_PER_JOB]);
        const firstJob = jobs.find((job) => job.data.run_ids.length === RUNS_PER_JOB)!;
        // Requests are being served: the jobs wait for a quiet moment.
        const foreground = new ForegroundWork();
        foreground.enter();
        await queue.startWorking({
          concurrency: 2,
          holdMs: 60_000,
          handBackMs: 60_000,
          hold: async (ids) => void held.push(ids),
          handler,
          foreground,
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(started.length, 0, 'a run started while requests were being served');
        foreground.leave();
        await eventually('two runs started', () => (started.length === 2 ? true : undefined));
        assert.deepEqual(started, runIds.slice(0, 2));
        assert.deepEqual(held.at(-1), runIds.slice(2, RUNS_PER_JOB), 'the rest of the first job is held');
        // Each run that ends frees a slot for the next waiting run, in order, and nothing more starts.
        for (let next = 2; next < RUNS_PER_JOB; next += 1) {
          finish.get(started[next - 2]!)!();
          await eventually(`run ${next} started`, () => (started.length === next + 1 ? true : undefined));
          assert.equal(started.at(-1), runIds[next]);
        }
        const stateOf = async () => (await jobsOf()).find((job) => job.id === firstJob.id)!.state;
        assert.equal(await stateOf(), 'active', 'the first job completed while its runs were executing');
        finish.get(runIds[RUNS_PER_JOB - 2]!)!();
        finish.get(runIds[RUNS_PER_JOB - 1]!)!();
        await eventually('the first job completed', async () => ((await stateOf()) === 'completed' ? true : undefined));
        // Two of the later three start; the third waits when the process stops, and goes back to the queue.
        await eventually('two more runs started', () => (started.length === RUNS_PER_JOB + 2 ? true : undefined));
        assert.equal(started[RUNS_PER_JOB], runIds[RUNS_PER_JOB]);
        await queue.stopFetching();
        const requeued = (await jobsOf()).filter((job) => job.state === 'created');
        assert.deepEqual(requeued.map((job) => job.data.run_ids), [[runIds.at(-1)]]);
      } finally {
        await close();
      }
    });

    test('the run queue: runs still start while a request is being served that is never answered (steady load, a stalled client)', async () => {
      const { queue, started, handler, close } = await testQueue();
      const runIds = [randomUUID(), randomUUID()];
      try {
        await harness.database.db.transaction().execute((trx) => queue.enqueueMany(runIds, trx));
        const foreground = new ForegroundWork();
        foreground.enter();
        await queue.startWorking({ concurrency: 4, holdMs: 60_000, hold: async () => {}, handler, foreground });
        await eventually('both runs started', () => (started.length === 2 ? true : undefined));
        assert.equal(foreground.quiet, false, 'the request is still being served');
        assert.deepEqual([...started].sort(), [...runIds].sort());
      } finally {
        await close();
      }
    });

    test('a fetch still in flight when the process stops: none of its runs starts here, all go back to the queue', async (context) => {
      if (harness.backend !== 'postgres') {
        context.skip('needs a second connection to hold the job table while the fetch waits: PGlite has one');
        return;
      }
      const { queue, started, handler, jobsOf, close } = await testQueue();
      const runIds = Array.from({ length: 3 }, () => randomUUID());
      let release = () => {};
      let locking: Promise<void> | undefined;
      try {
        await harness.database.db.transaction().execute((trx) => queue.enqueueMany(runIds, trx));
        const [fetched] = await jobsOf();
        // The job table held by another transaction: the worker's fetch waits on it.
        const released = new Promise<void>((resolve) => (release = resolve));
        let locked = () => {};
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        locking = harness.database.db.transaction().execute(async (trx) => {
          await sql`LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE`.execute(trx);
          locked();
          await released;
        });
        await isLocked;
        await queue.startWorking({ concurrency: 2, holdMs: 60_000, handBackMs: 60_000, hold: async () => {}, handler });
        await eventually('the fetch waiting on the job table', async () => {
          const { rows } = await harness.database.executeSql(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%pgboss.job%'`,
          );
          return rows[0].n > 0 ? true : undefined;
        });
        const stopping = queue.stopFetching();
        release();
        await locking;
        await stopping;
        assert.deepEqual(started, [], 'a run started in a process that was stopping');
        const requeued = (await jobsOf()).filter((job) => job.state === 'created');
        assert.deepEqual(requeued.flatMap((job) => job.data.run_ids).sort(), [...runIds].sort());
        await eventually('the fetched job completed', async () => ((await jobsOf()).find((job) => job.id === fetched!.id)?.state === 'completed' ? true : undefined));
      } finally {
        release();
        await locking?.catch(() => {});
        await close();
      }
    });

    test('runs left waiting for a slot go back to the queue after a while, for any process, and complete from there', async () => {
      const { queue, started, finish, handler, jobsOf, close } = await testQueue();
      const runIds = Array.from({ length: 3 }, () => randomUUID());
      try {
        await harness.database.db.transaction().execute((trx) => queue.enqueueMany(runIds, trx));
        await queue.startWorking({
          concurrency: 1,
          holdMs: 60_000,
          handBackMs: 100,
          hold: async () => {},
          handler,
        });
        const handedBack = await eventually('the waiting runs handed back', async () =>
          (await jobsOf()).find((job) => job.state === 'created' && job.data.run_ids.length < runIds.length),
        );
        assert.deepEqual(handedBack.data.run_ids, runIds.slice(1));
        assert.deepEqual(started, runIds.slice(0, 1));
        finish.get(runIds[0]!)!();
        await eventually('the handed-back job taken', () => (started.length === 2 ? true : undefined));
        assert.equal(started[1], runIds[1]);
        finish.get(runIds[1]!)!();
        await eventually('the last run started', () => (started.length === 3 ? true : undefined));
        finish.get(runIds[2]!)!();
        await eventually('every job completed', async () => ((await jobsOf()).every((job) => job.state === 'completed') ? true : undefined));
      } finally {
        await close();
      }
    });

    test('a run held by a worker (waiting for a slot) whose worker is gone is enqueued again once the hold lapses, not 10 minutes later', async () => {
      const { runId } = await insertOrphanRun(org, 0, 'just queued');
      await holdQueuedRuns(harness.database.db, [runId], 1_500);
      assert.ok(!(await staleQueuedRuns(harness.database.db, 10_000)).includes(runId), 'a held run was presumed lost');
      const run = await eventually(
        'the held run completed',
        async () => {
          const row = await harness.database.db.selectFrom('generation_runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
          return row.status === 'completed' ? row : undefined;
        },
        20_000,
      );
      assert.equal(run.attempts, 1);
      const frames = await watchToEnd(org.admin, 'persona', runId);
      assert.deepEqual(kinds(frames), ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent']);
    });

    test('processes starting at once on a new PostgreSQL database all set up the schema and the run queue, one after another', async (context) => {
      if (harness.backend !== 'postgres') {
        context.skip('needs PostgreSQL: PGlite is one process');
        return;
      }
      // Each handle has a pool of its own, as a server process does; pg-boss's own setup raced
      // (a duplicate pgboss schema, a deadlock creating the queue) in about one start in three.
      for (let round = 0; round < 3; round += 1) {
        const scratch = await createScratchDatabase(process.env.GLOW_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL);
        const handles = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ databaseUrl: scratch.url, dataDir: os.tmpdir() })));
        const queues: RunQueue[] = [];
        try {
          const starts = await Promise.allSettled(
            handles.map(async (database) => {
              await migrateToLatest(database);
              const queue = new RunQueue(database);
              queues.push(queue);
              await queue.start();
            }),
          );
          const failures = starts.flatMap((start) => (start.status === 'rejected' ? [String(start.reason)] : []));
          assert.deepEqual(failures, [], `round ${round + 1}`);
        } finally {
          for (const queue of queues) await queue.stop().catch(() => {});
          for (const database of handles) await database.close();
          await scratch.drop();
        }
      }
    });

    test('two server processes: trigger on one, watch on the other; kill -9 of the worker mid-run; the reconnecting watcher sees exactly one terminal', async (context) => {
      if (harness.backend !== 'postgres') {
        context.skip('needs PostgreSQL: PGlite is one process');
        return;
      }
      const scratch = await createScratchDatabase(process.env.GLOW_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL);
      const token = `two-process-${randomUUID()}`;
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-two-process-'));
      const env = { DATABASE_URL: scratch.url, GLOW_ADMIN_TOKEN: token, GLOW_DATA_DIR: dataDir, [apiKeyEnv]: 'sk-fake' };
      const processes: ServerProcess[] = [];
      try {
        const api = await startServerProcess({ ...env, GLOW_WORKERS: '0' });
        processes.push(api);
        const worker = await startServerProcess({ ...env, GLOW_WORKERS: '1' });
        processes.push(worker);
        const onApi = new Client(api.url, token);
        const onWorker = new Client(worker.url, token);
        const { modelIds: [slowModelId] } = await configureFakeModels(onApi, fake.url, apiKeyEnv, [{ purpose: 'text', modelName: 'fake-1' }]);
        fake.reset();
        fake.enqueue({ hang: true });
        const handles = await generate(onApi, 'persona', { instructions: ['Survives its worker'], config: { params: { model_id: slowModelId } } });
        const watch = await openWatch(onWorker, `/persona/watch?run_id=${handles.run_id}`);
        assert.equal(watch.status, 200);
        await eventually('the worker to call the model', () => (fake.requests.length > 0 ? true : undefined));
        worker.child.kill('SIGKILL');
        await watch.ended;
        const seen = watch.frames;
        const lastId = seen.at(-1)?.id;
        // The restarted worker process takes the run over once the dead one's lease expires.
        processes.push(await startServerProcess({ ...env, GLOW_WORKERS: '1' }));
        const resumed = await watchToEnd(onApi, 'persona', handles.run_id, lastId ? { 'last-event-id': lastId } : {});
        const all = [...seen, ...resumed];
        assert.equal(all.filter(isTerminal).length, 1);
        assert.equal(all.at(-1)!.data.type, 'GenerationCompleteEvent', JSON.stringify(all.at(-1)!.data));
        const replay = await watchToEnd(onApi, 'persona', handles.run_id);
        assert.deepEqual(replay.map((frame) => frame.id), all.map((frame) => frame.id));
      } finally {
        for (const server of processes) await server.stop('SIGKILL');
        await scratch.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('a run whose workers kept dying ends with an error event after the attempt limit', async () => {
      const { runId } = await insertOrphanRun(org, MAX_RUN_ATTEMPTS);
      const frames = await watchToEnd(org.admin, 'persona', runId);
      assert.deepEqual(kinds(frames), ['GenerationErrorEvent']);
      assert.match(frames[0]!.data.message, /attempts/);
    });
  });
});
