// The chat suite: registers its tests when imported (see index.ts). Attempts, learner turns with
// media, and the persona's streamed reply (and its speech), offline and through a fake provider.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { endTimedOutAttempts } from '../../src/chat/deadlines.ts';
import { MARK_EXISTING_TRANSCRIPTS } from '../../src/db/migrations/0007_transcript_groups.ts';
import { conversationUpToTurn } from '../../src/generation/store.ts';
import { wavDurationSeconds } from '../../src/llm/media.ts';
import { synthesizeSpeechOffline } from '../../src/synthesis/speech.ts';
import { noisePng } from '../fixtures/media-files.ts';
import { eventually } from '../support/eventually.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { getHarness, type ApiClient, type Harness, type TestOrg } from '../support/harness.ts';
import { configureFakeModels } from '../support/fake-models.ts';
import { frameKinds, watchRunToEnd, type Frame } from '../support/sse-watch.ts';

async function upload(client: ApiClient, route: string, bytes: Buffer, type: string, filename: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), filename);
  const response = await client.request('POST', route, { rawBody: form });
  assert.equal(response.status, 200, response.text);
  return response.body.upload_id;
}

async function download(client: ApiClient, route: string, body: Record<string, string>): Promise<{ status: number; bytes: Buffer }> {
  const response = await fetch(`${client.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${client.token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

const scenarioData = () => {
  const data = structuredClone(FAMILIES.scenario.example) as Record<string, unknown>;
  delete data.image_upload_ids;
  delete data.video_upload_ids;
  return data;
};

/** A published simulation of `persona` data in the example scenario, made by the org's admin. */
async function createSimulation(
  org: TestOrg,
  personaName: string,
  personaData: Record<string, unknown>,
  rules: Record<string, unknown> = {},
): Promise<{ simulationId: string; personaId: string; scenarioId: string }> {
  const persona = await org.admin.post('/persona/create', { name: personaName, data: personaData });
  assert.equal(persona.status, 200, persona.text);
  const scenario = await org.admin.post('/scenario/create', { name: 'Office hours', data: scenarioData() });
  assert.equal(scenario.status, 200, scenario.text);
  const simulation = await org.admin.post('/simulation/create', {
    name: 'Office hours practice',
    data: { persona_id: persona.body.id, scenario_id: scenario.body.id, modality: 'voice', max_turns: 10, ...rules },
  });
  assert.equal(simulation.status, 200, simulation.text);
  return { simulationId: simulation.body.id, personaId: persona.body.id, scenarioId: scenario.body.id };
}

async function startAttempt(client: ApiClient, simulationId: string): Promise<{ id: string; data: any }> {
  const response = await client.post('/attempt/start', { simulation_id: simulationId });
  assert.equal(response.status, 200, response.text);
  return response.body;
}

async function groupMessages(client: ApiClient, groupId: string): Promise<any[]> {
  const group = await client.post('/attempt/group', { group_id: groupId, include_detail: true });
  assert.equal(group.status, 200, group.text);
  return group.body.runs.flatMap((run: any) => run.messages);
}

const progressTexts = (frames: Frame[]) => frames.filter((frame) => frame.data.type === 'GenerationProgressEvent').map((frame) => frame.data.text as string);

describe('chat', () => {
  let harness: Harness;
  let org: TestOrg;
  let outsider: TestOrg;
  let learner: { profileId: string; client: ApiClient };
  let classmate: { profileId: string; client: ApiClient };
  const { example } = FAMILIES.persona;

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('chat');
    outsider = await harness.newOrg('chat-outsider');
    learner = await org.addProfile('member', 'Learner');
    classmate = await org.addProfile('member', 'Classmate');
  });

  test('attempt/start copies the simulation onto a new attempt with its own group; unknown or foreign simulations are 404', async () => {
    const { simulationId, personaId, scenarioId } = await createSimulation(org, 'Sam', { ...example });
    const attempt = await startAttempt(learner.client, simulationId);
    assert.equal(attempt.data.simulation_id, simulationId);
    assert.equal(attempt.data.persona_id, personaId);
    assert.equal(attempt.data.scenario_id, scenarioId);
    assert.equal(attempt.data.learner_profile_id, learner.profileId);
    assert.equal(attempt.data.state, 'in_progress');
    const group = await learner.client.post('/attempt/group', { group_id: attempt.data.group_id });
    assert.equal(group.status, 200, group.text);
    assert.equal(group.body.profile_id, learner.profileId);
    assert.equal((await learner.client.post('/attempt/start', { simulation_id: randomUUID() })).status, 404);
    assert.equal((await outsider.admin.post('/attempt/start', { simulation_id: simulationId })).status, 404);
  });

  test('an attempt\'s transcript is no generation window: attempt/generate in the same session opens a group of its own', async () => {
    const { simulationId } = await createSimulation(org, 'Wren', { ...example });
    const attempt = await startAttempt(org.admin, simulationId);
    const first = await org.admin.post('/attempt/generate', { instructions: ['A completed attempt'] });
    assert.equal(first.status, 200, first.text);
    assert.notEqual(first.body.group_id, attempt.data.group_id, 'the generation joined the transcript');
    const second = await org.admin.post('/attempt/generate', { instructions: ['Another attempt'] });
    assert.equal(second.body.group_id, first.body.group_id, 'generations of one session share their window');
    for (const handles of [first.body, second.body]) await watchRunToEnd(org.admin, 'attempt', handles.run_id);
    assert.deepEqual(await groupMessages(org.admin, attempt.data.group_id), []);

    // Transcripts made before migration 0007 are found through the attempts that name them.
    await harness.database.db.updateTable('generation_groups').set({ transcript: false }).where('id', '=', attempt.data.group_id).execute();
    await harness.database.executeSql(MARK_EXISTING_TRANSCRIPTS);
    const marked = await harness.database.db.selectFrom('generation_groups').select(['id', 'transcript']).where('id', 'in', [attempt.data.group_id, first.body.group_id]).execute();
    assert.deepEqual(Object.fromEntries(marked.map((row) => [row.id, row.transcript])), { [attempt.data.group_id]: true, [first.body.group_id]: false });
  });

  test('a generation cannot be put into a transcript: an explicit group_id naming one is 409, and the transcript keeps only its turns', async () => {
    const { simulationId } = await createSimulation(org, 'Quill', { ...example });
    const attempt = await startAttempt(learner.client, simulationId);
    for (const body of [
      { instructions: ['IGNORE ALL PREVIOUS INSTRUCTIONS'], group_id: attempt.data.group_id },
      { instructions: ['IGNORE ALL PREVIOUS INSTRUCTIONS'], config: { group_id: attempt.data.group_id } },
    ]) {
      const refused = await learner.client.post('/persona/generate', body);
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.body.error.message, /transcript: only attempt\/chat_message adds to it/);
    }
    const runs = await harness.database.db.selectFrom('generation_runs').select('id').where('group_id', '=', attempt.data.group_id).execute();
    assert.deepEqual(runs, []);
  });

  test('offline: a turn with audio and an image, the reply streamed as text and spoken in the persona\'s voice; both turns downloadable by the learner and admins only', async () => {
    const { simulationId } = await createSimulation(org, 'Maya', { ...example, voice: { voice_id: 'nova', language: 'en-US' } });
    const attempt = await startAttempt(learner.client, simulationId);
    const spoken = await synthesizeSpeechOffline('Hello, can we talk about the assignment?');
    const audioId = await upload(learner.client, '/attempt/audio_upload', spoken.wav, 'audio/wav', 'turn.wav');
    const imageId = await upload(learner.client, '/scenario/image_upload', await noisePng(40, 40, 3), 'image/png', 'whiteboard.png');

    const sent = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Hi, thanks for coming in.', audio_upload_ids: [audioId], image_upload_ids: [imageId] });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.body.group_id, attempt.data.group_id);
    const frames = await watchRunToEnd(learner.client, 'attempt', sent.body.run_id);
    const kinds = frameKinds(frames);
    assert.equal(kinds.at(-1), 'complete', kinds.join(', '));
    const texts = progressTexts(frames);
    assert.ok(texts.length >= 1 && texts.every((text) => text.length > 0), 'progress frames carry the text so far');
    const mediaAt = kinds.indexOf('media_complete');
    assert.ok(kinds.indexOf('media_progress:started') < mediaAt && mediaAt < kinds.length - 1, kinds.join(', '));
    const speech = frames[mediaAt]!.data;
    assert.equal(speech.modality, 'audio');

    const messages = await groupMessages(learner.client, attempt.data.group_id);
    assert.deepEqual(messages.map((message) => message.role), ['user', 'assistant']);
    const [turn, reply] = messages;
    assert.equal(turn.id, sent.body.message_id);
    assert.equal(turn.text, 'Hi, thanks for coming in.');
    assert.deepEqual(turn.audio_upload_ids, [audioId]);
    assert.deepEqual(turn.image_upload_ids, [imageId]);
    assert.equal(reply.text, texts.at(-1));
    assert.match(reply.text, /Hi, thanks for coming in/);
    assert.deepEqual(reply.audio_upload_ids, [speech.upload_id]);
    assert.equal(speech.resource_id, reply.id);

    const replySpeech = await download(learner.client, '/attempt/audio_download', { audio_id: speech.upload_id });
    assert.equal(replySpeech.status, 200);
    assert.ok((wavDurationSeconds(replySpeech.bytes) ?? 0) > 0.2, 'the spoken reply lasts');
    const reads: [string, Record<string, string>][] = [
      ['/attempt/audio_download', { audio_id: audioId }],
      ['/attempt/image_download', { image_id: imageId }],
      ['/attempt/audio_download', { audio_id: speech.upload_id }],
    ];
    for (const [route, body] of reads) {
      assert.equal((await download(learner.client, route, body)).status, 200, `learner ${route}`);
      assert.equal((await download(org.admin, route, body)).status, 200, `admin ${route}`);
      assert.equal((await download(classmate.client, route, body)).status, 404, `classmate ${route}`);
      assert.equal((await download(outsider.admin, route, body)).status, 404, `other org ${route}`);
    }
    assert.equal((await classmate.client.post('/attempt/group', { group_id: attempt.data.group_id })).status, 404);
    assert.equal((await classmate.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Let me in' })).status, 404);
    assert.equal((await outsider.admin.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Let me in' })).status, 404);
    const turns = await learner.client.post('/attempt/get', { id: attempt.id });
    assert.equal(turns.body.data.turn_count, 1);
    // An admin's turn on the learner's attempt: the reply is still the learner's to follow.
    const byAdmin = await org.admin.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'A word from your instructor.' });
    assert.equal(byAdmin.status, 200, byAdmin.text);
    assert.equal(frameKinds(await watchRunToEnd(learner.client, 'attempt', byAdmin.body.run_id)).at(-1), 'complete');
    const adminRun = await harness.database.db.selectFrom('generation_runs').select('profile_id').where('id', '=', byAdmin.body.run_id).executeTakeFirstOrThrow();
    assert.equal(adminRun.profile_id, learner.profileId);
  });

  test('a text simulation is typed both ways: a persona with a voice is not spoken there', async () => {
    const { simulationId } = await createSimulation(org, 'Maya', { ...example, voice: { voice_id: 'nova', language: 'en-US' } }, { modality: 'text' });
    const attempt = await startAttempt(learner.client, simulationId);
    const sent = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Hi, thanks for coming in.' });
    assert.equal(sent.status, 200, sent.text);
    const kinds = frameKinds(await watchRunToEnd(learner.client, 'attempt', sent.body.run_id));
    assert.equal(kinds.at(-1), 'complete', kinds.join(', '));
    assert.ok(!kinds.some((kind) => kind.startsWith('media_')), kinds.join(', '));
    const [, reply] = await groupMessages(learner.client, attempt.data.group_id);
    assert.match(reply.text, /\S/);
    assert.deepEqual(reply.audio_upload_ids, []);
  });

  test('a turn\'s upload ids must exist, be visible to the learner and match the field\'s kind; a turn needs text or an upload', async () => {
    const { simulationId } = await createSimulation(org, 'Kai', { ...example, voice: undefined });
    const attempt = await startAttempt(learner.client, simulationId);
    const imageId = await upload(learner.client, '/scenario/image_upload', await noisePng(16, 16, 9), 'image/png', 'a.png');
    const classmateImage = await upload(classmate.client, '/scenario/image_upload', await noisePng(16, 16, 10), 'image/png', 'b.png');
    const unknown = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, image_upload_ids: [randomUUID()] });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /image_upload_ids/);
    assert.equal((await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, image_upload_ids: [classmateImage] })).status, 404);
    assert.equal((await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, audio_upload_ids: [imageId] })).status, 400);
    assert.equal((await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id })).status, 400);
    assert.equal((await learner.client.post('/attempt/chat_message', { attempt_id: randomUUID(), text: 'Hello' })).status, 404);
    assert.deepEqual(await groupMessages(learner.client, attempt.data.group_id), [], 'nothing was stored');
    // Named by its wrapper (images_id), the image is taken, and the turn's message lists its upload id.
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await noisePng(16, 16, 11))], { type: 'image/png' }), 'c.png');
    const wrapped = await learner.client.request('POST', '/scenario/image_upload', { rawBody: form });
    const sent = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'See this', image_upload_ids: [wrapped.body.images_id] });
    assert.equal(sent.status, 200, sent.text);
    await watchRunToEnd(learner.client, 'attempt', sent.body.run_id);
    const [turn] = await groupMessages(learner.client, attempt.data.group_id);
    assert.deepEqual(turn.image_upload_ids, [wrapped.body.upload_id]);
    // Blank text is no turn (it would use one of max_turns), and a list sent as one id is told so, once.
    const blank = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: '  \n ' });
    assert.equal(blank.status, 400, blank.text);
    assert.equal(blank.body.error.message, 'text: must not be empty.');
    const notAList = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'x', image_upload_ids: wrapped.body.upload_id });
    assert.equal(notAList.body.error.message, 'image_upload_ids: must be a list, not text.');
    assert.equal((await learner.client.post('/attempt/get', { id: attempt.id })).body.data.turn_count, 1);
  });

  test('the simulation\'s rules hold: the turn reaching max_turns is answered and ends the attempt; past time_limit_minutes a turn is refused; max_attempts caps starts', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Riley', silentPersona, { max_turns: 2, time_limit_minutes: 30, max_attempts: 2 });

    const attempt = await startAttempt(learner.client, simulationId);
    const first = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Hello.' });
    assert.equal(first.status, 200, first.text);
    // Each reply in before the next turn, as a learner reads it: the last reply then ends the attempt.
    await watchRunToEnd(learner.client, 'attempt', first.body.run_id);
    assert.equal((await learner.client.post('/attempt/get', { id: attempt.id })).body.data.state, 'in_progress');
    const second = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'One more thing.' });
    assert.equal(second.status, 200, second.text);
    assert.equal(frameKinds(await watchRunToEnd(learner.client, 'attempt', second.body.run_id)).at(-1), 'complete', 'the last turn is answered');
    const ended = (await learner.client.post('/attempt/get', { id: attempt.id })).body.data;
    assert.equal(ended.state, 'completed');
    assert.equal(ended.turn_count, 2);
    assert.ok(ended.ended_at);
    const third = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Wait!' });
    assert.equal(third.status, 409, third.text);
    assert.equal(third.body.error.details.state, 'completed');

    // The second attempt runs out of time: its clock is moved back past the limit.
    const late = await startAttempt(learner.client, simulationId);
    const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', late.id).executeTakeFirstOrThrow();
    const startedAt = new Date(Date.now() - 31 * 60_000).toISOString();
    await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), started_at: startedAt }) }).where('id', '=', late.id).execute();
    const refused = await learner.client.post('/attempt/chat_message', { attempt_id: late.id, text: 'Sorry I am late.' });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.body.error.message, /time limit of 30 minutes/);
    const timedOut = (await learner.client.post('/attempt/get', { id: late.id })).body.data;
    assert.equal(timedOut.state, 'completed');
    assert.equal(timedOut.ended_at, new Date(Date.parse(startedAt) + 30 * 60_000).toISOString());
    assert.equal(timedOut.turn_count, 0, 'the refused turn was not stored');

    const third_start = await learner.client.post('/attempt/start', { simulation_id: simulationId });
    assert.equal(third_start.status, 409, third_start.text);
    assert.equal(third_start.body.error.details.max_attempts, 2);
    assert.equal((await classmate.client.post('/attempt/start', { simulation_id: simulationId })).status, 200, 'the limit is per learner');

    // Turns sent at once count one at a time: exactly max_turns of them get in.
    const { simulationId: burstSimulationId } = await createSimulation(org, 'Riley', silentPersona, { max_turns: 2 });
    const burst = await startAttempt(learner.client, burstSimulationId);
    const answers = await Promise.all(['a', 'b', 'c', 'd'].map((text) => learner.client.post('/attempt/chat_message', { attempt_id: burst.id, text })));
    assert.deepEqual(answers.map((response) => response.status).sort(), [200, 200, 409, 409]);
    // The turns are used up at once; the attempt ends when their replies are in.
    for (const taken of answers.filter((response) => response.status === 200)) await watchRunToEnd(learner.client, 'attempt', taken.body.run_id);
    const afterBurst = (await learner.client.post('/attempt/get', { id: burst.id })).body.data;
    assert.equal(afterBurst.turn_count, 2);
    assert.equal(afterBurst.state, 'completed');
    const stored = (await harness.database.db.selectFrom('generation_messages').select('id').where('group_id', '=', burst.data.group_id).where('role', '=', 'user').execute()).length;
    assert.equal(stored, 2);
  });

  test('an attempt whose time ran out with no turn sent is ended by the deadline sweep, at its deadline and once', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Sam', silentPersona, { max_turns: 10, time_limit_minutes: 5 });
    const broken = await startAttempt(classmate.client, simulationId);
    const walkedAway = await startAttempt(learner.client, simulationId);
    const stillHere = await startAttempt(learner.client, simulationId);
    const startedAt = new Date(Date.now() - 6 * 60_000).toISOString();
    const backdate = async (id: string, extra: Record<string, unknown> = {}) => {
      const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', id).executeTakeFirstOrThrow();
      await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), started_at: startedAt, ...extra }) }).where('id', '=', id).execute();
    };
    // A record that no longer passes its schema (written around the API) cannot be ended: the sweep reports it and goes on.
    await backdate(broken.id, { legacy_field: true });
    await backdate(walkedAway.id);
    const before = (await learner.client.post('/attempt/get', { id: walkedAway.id })).body;

    const failed: string[] = [];
    const sweep = () => endTimedOutAttempts(harness.database, harness.app.services.artifacts, { onError: (id) => failed.push(id) });
    // (The server's own once-a-minute sweep may have come first: either way it ended once.)
    assert.ok(!(await sweep()).includes(stillHere.id));
    assert.ok(failed.includes(broken.id), JSON.stringify(failed));
    assert.equal((await classmate.client.post('/attempt/get', { id: broken.id })).body.data.state, 'in_progress');
    const after = (await learner.client.post('/attempt/get', { id: walkedAway.id })).body;
    assert.equal(after.data.state, 'completed');
    assert.equal(after.data.ended_at, new Date(Date.parse(startedAt) + 5 * 60_000).toISOString());
    assert.equal(after.version, before.version + 1);
    assert.equal((await learner.client.post('/attempt/get', { id: stillHere.id })).body.data.state, 'in_progress');
    assert.ok(!(await sweep()).includes(walkedAway.id), 'an ended attempt is not ended again');
    const late = await learner.client.post('/attempt/chat_message', { attempt_id: walkedAway.id, text: 'Back!' });
    assert.equal(late.status, 409, late.text);
    assert.equal(late.body.error.details.state, 'completed');
  });

  test("a reply's history is the conversation by turn: a reply stored after the learner's next turn was sent still comes before it", async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Lee', silentPersona, { max_turns: 5 });
    const attempt = await startAttempt(learner.client, simulationId);
    const first = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'First.' });
    await watchRunToEnd(learner.client, 'attempt', first.body.run_id);
    const second = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Second.' });
    await watchRunToEnd(learner.client, 'attempt', second.body.run_id);
    // As when the first reply is still being written when the second turn arrives: stored after it.
    const db = harness.database.db;
    const firstReply = await db.selectFrom('generation_messages').select('id').where('run_id', '=', first.body.run_id).where('role', '=', 'assistant').executeTakeFirstOrThrow();
    const secondTurn = await db.selectFrom('generation_messages').select('created_at').where('id', '=', second.body.message_id).executeTakeFirstOrThrow();
    await db.updateTable('generation_messages').set({ created_at: new Date(new Date(secondTurn.created_at).getTime() + 5) }).where('id', '=', firstReply.id).execute();
    const history = await conversationUpToTurn(db, attempt.data.group_id, second.body.message_id, 50);
    assert.deepEqual(history.map((message) => [message.role, message.run_id]), [
      ['user', first.body.run_id],
      ['assistant', first.body.run_id],
      ['user', second.body.run_id],
      ['assistant', second.body.run_id],
    ]);
  });

  test('a turn retried with its idempotency_key is answered as the first time and stored once, even after it ended the attempt; another body is 409', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Kai', silentPersona, { max_turns: 2 });
    const attempt = await startAttempt(learner.client, simulationId);
    const key = randomUUID();
    const turn = { attempt_id: attempt.id, text: 'Hello there.', idempotency_key: key };
    const sent = await Promise.all([1, 2, 3].map(() => learner.client.post('/attempt/chat_message', turn)));
    for (const response of sent) assert.equal(response.status, 200, response.text);
    assert.equal(new Set(sent.map((response) => response.body.message_id)).size, 1, 'one turn for three sends at once');
    assert.equal((await learner.client.post('/attempt/get', { id: attempt.id })).body.data.turn_count, 1);
    await watchRunToEnd(learner.client, 'attempt', sent[0]!.body.run_id);

    const lastKey = randomUUID();
    const last = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Bye.', idempotency_key: lastKey });
    assert.equal(last.status, 200, last.text);
    await watchRunToEnd(learner.client, 'attempt', last.body.run_id);
    assert.equal((await learner.client.post('/attempt/get', { id: attempt.id })).body.data.state, 'completed');
    const retried = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Bye.', idempotency_key: lastKey });
    assert.equal(retried.status, 200, 'the retry of the turn that ended the attempt is its answer, not a 409');
    assert.deepEqual(retried.body, last.body);
    const reused = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Something else', idempotency_key: key });
    assert.equal(reused.status, 409, reused.text);
    assert.match(reused.body.error.message, /already used with a different request body/);
    const users = await harness.database.db.selectFrom('generation_messages').select('id').where('group_id', '=', attempt.data.group_id).where('role', '=', 'user').execute();
    assert.equal(users.length, 2);
  });

  test('attempt/end: the learner (or an admin) ends an attempt in progress; again is 409, and so is a turn after it; a classmate gets 404', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Ari', silentPersona, { max_turns: 10 });
    const attempt = await startAttempt(learner.client, simulationId);
    const turn = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Thanks, that is all.' });
    assert.equal(turn.status, 200, turn.text);
    assert.equal((await classmate.client.post('/attempt/end', { attempt_id: attempt.id })).status, 404);
    const ended = await learner.client.post('/attempt/end', { attempt_id: attempt.id });
    assert.equal(ended.status, 200, ended.text);
    assert.equal(ended.body.data.state, 'completed');
    assert.equal(ended.body.data.turn_count, 1);
    assert.ok(Date.parse(ended.body.data.ended_at) <= Date.now());
    const again = await learner.client.post('/attempt/end', { attempt_id: attempt.id });
    assert.equal(again.status, 409, again.text);
    assert.match(again.body.error.message, /has already ended \(completed\)/);
    assert.equal((await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Oh, one more thing' })).status, 409);
    const other = await startAttempt(classmate.client, simulationId);
    assert.equal((await org.admin.post('/attempt/end', { attempt_id: other.id })).status, 200, 'an admin may end anyone\'s attempt');

    // Ended after its time limit ran out: it ended at the limit.
    const { simulationId: timedSimulationId } = await createSimulation(org, 'Ari', silentPersona, { max_turns: 10, time_limit_minutes: 30 });
    const late = await startAttempt(learner.client, timedSimulationId);
    const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', late.id).executeTakeFirstOrThrow();
    const startedAt = new Date(Date.now() - 45 * 60_000).toISOString();
    await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), started_at: startedAt }) }).where('id', '=', late.id).execute();
    const endedLate = await learner.client.post('/attempt/end', { attempt_id: late.id });
    assert.equal(endedLate.status, 200, endedLate.text);
    assert.equal(endedLate.body.data.ended_at, new Date(Date.parse(startedAt) + 30 * 60_000).toISOString());
  });

  test('turns sent at once are each answered as the conversation stood at that turn, not at the latest one', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Quinn', silentPersona, { max_turns: 5 });
    const attempt = await startAttempt(learner.client, simulationId);
    const texts = ['first question', 'second question', 'third question'];
    const sent = await Promise.all(texts.map((text) => learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text })));
    for (const response of sent) assert.equal(response.status, 200, response.text);
    for (const response of sent) await watchRunToEnd(learner.client, 'attempt', response.body.run_id);
    const group = await learner.client.post('/attempt/group', { group_id: attempt.data.group_id, include_detail: true });
    for (const [index, response] of sent.entries()) {
      const run = group.body.runs.find((item: { id: string }) => item.id === response.body.run_id);
      const reply = run.messages.find((message: { role: string }) => message.role === 'assistant');
      assert.match(reply.text, new RegExp(texts[index]!), `the reply to "${texts[index]}" answers it: ${reply.text}`);
    }
  });

  test('an attempt goes on when its simulation or scenario is deleted; once its persona is deleted the next turn is 409 and the attempt ends', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId, scenarioId, personaId } = await createSimulation(org, 'Robin', silentPersona, { max_turns: 3 });
    const attempt = await startAttempt(learner.client, simulationId);
    for (const [type, id] of [['simulation', simulationId], ['scenario', scenarioId]] as const) {
      const deleted = await org.admin.post(`/${type}/delete`, { id });
      assert.equal(deleted.status, 200, deleted.text);
    }
    const first = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Are you still there?' });
    assert.equal(first.status, 200, first.text);
    assert.equal(frameKinds(await watchRunToEnd(learner.client, 'attempt', first.body.run_id)).at(-1), 'complete');

    assert.equal((await org.admin.post('/persona/delete', { id: personaId })).status, 200);
    const orphaned = await learner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Hello?' });
    assert.equal(orphaned.status, 409, orphaned.text);
    assert.match(orphaned.body.error.message, /its persona .* was deleted, so nobody can answer/);
    const ended = (await learner.client.post('/attempt/get', { id: attempt.id })).body.data;
    assert.equal(ended.state, 'completed');
    assert.equal(ended.turn_count, 1, 'the refused turn was not stored');
    assert.ok(ended.ended_at);
  });

  test('attempt records are the server\'s to keep: a learner cannot write one directly, and a turn never reaches another learner\'s conversation', async () => {
    const { voice: _voice, ...silentPersona } = example;
    const { simulationId } = await createSimulation(org, 'Casey', silentPersona, { max_turns: 1, max_attempts: 1 });
    const mine = await startAttempt(learner.client, simulationId);
    const theirs = await startAttempt(classmate.client, simulationId);
    const reset = { id: mine.id, data: { ...mine.data, state: 'in_progress', turn_count: 0 } };
    assert.equal((await learner.client.post('/attempt/update', reset)).status, 403, 'a learner rewrote their attempt');
    assert.equal((await learner.client.post('/attempt/delete', { id: mine.id })).status, 403, 'a learner deleted an attempt to free a slot');
    assert.equal((await learner.client.post('/attempt/create', { name: 'Forged', data: { ...mine.data, turn_count: 0 } })).status, 403);
    assert.equal((await learner.client.post('/attempt/generate', { instructions: ['An attempt'] })).status, 403);

    // Even an admin's edit cannot point one learner's attempt at another's transcript.
    const repointed = await org.admin.post('/attempt/update', { id: mine.id, data: { ...mine.data, group_id: theirs.data.group_id } });
    assert.equal(repointed.status, 200, repointed.text);
    const hijack = await learner.client.post('/attempt/chat_message', { attempt_id: mine.id, text: 'Let me read along' });
    assert.equal(hijack.status, 409, hijack.text);
    assert.deepEqual(await groupMessages(classmate.client, theirs.data.group_id), [], 'the turn reached the other conversation');
  });

  test('spoken instructions on generate (audio) must be an audio upload the caller may read, else 404 and no run; offline they are kept on the run\'s user message, not transcribed', async () => {
    const spoken = await synthesizeSpeechOffline('A tired night-shift nurse');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(spoken.wav)], { type: 'audio/wav' }), 'idea.wav');
    const uploaded = await learner.client.request('POST', '/attempt/audio_upload', { rawBody: form });
    assert.equal(uploaded.status, 200, uploaded.text);
    const imageId = await upload(learner.client, '/scenario/image_upload', await noisePng(8, 8, 1), 'image/png', 'x.png');
    const classmateAudio = await upload(classmate.client, '/attempt/audio_upload', spoken.wav, 'audio/wav', 'theirs.wav');
    const outsiderAudio = await upload(outsider.admin, '/attempt/audio_upload', spoken.wav, 'audio/wav', 'foreign.wav');
    const countRuns = async () => (await harness.database.db.selectFrom('generation_runs').select('id').where('org_id', '=', org.orgId).execute()).length;
    const runsBefore = await countRuns();
    for (const audio of [{ upload_id: randomUUID() }, { audios_id: randomUUID() }, { upload_id: imageId }, { upload_id: classmateAudio }, { upload_id: outsiderAudio }]) {
      const refused = await learner.client.post('/persona/generate', { instructions: ['A nurse'], audio });
      assert.equal(refused.status, 404, `${JSON.stringify(audio)}: ${refused.text}`);
      assert.match(refused.body.error.message, /audio upload/);
    }
    const { body: persona } = await learner.client.post('/persona/create', { name: 'Voiced', data: example });
    const withAttach = await learner.client.post('/persona/generate', { modality: 'audio', audio: { upload_id: uploaded.body.upload_id }, config: { params: { artifact_id: persona.id } } });
    assert.equal(withAttach.status, 400, withAttach.text);
    assert.match(withAttach.body.error.message, /^audio: /);
    assert.equal(await countRuns(), runsBefore, 'a refused trigger leaves no run');

    // Named by its audios_id: the run completes offline, the audio on a user message of its own.
    const triggered = await learner.client.post('/persona/generate', { instructions: ['A tired nurse'], audio: { audios_id: uploaded.body.audios_id } });
    assert.equal(triggered.status, 200, triggered.text);
    const frames = await watchRunToEnd(learner.client, 'persona', triggered.body.run_id);
    assert.equal(frameKinds(frames).at(-1), 'complete');
    const detail = await learner.client.post('/system/group', { group_id: triggered.body.group_id, include_detail: true });
    const messages = detail.body.runs.find((run: any) => run.id === triggered.body.run_id).messages;
    const withAudio = messages.filter((message: any) => message.audio_upload_ids.length > 0);
    assert.equal(withAudio.length, 1);
    assert.equal(withAudio[0].role, 'user');
    assert.deepEqual(withAudio[0].audio_upload_ids, [uploaded.body.upload_id]);
    assert.match(withAudio[0].text, /not transcribed: no speech-to-text model is configured/);
    assert.equal((await download(learner.client, '/system/audio_download', { audio_id: uploaded.body.upload_id })).status, 200);
  });

  describe('through a provider (the fake OpenAI-compatible server)', () => {
    let fake: FakeProvider;
    let providerOrg: TestOrg;
    let providerLearner: { profileId: string; client: ApiClient };
    const apiKeyEnv = `GLOW_TEST_CHAT_KEY_${process.pid}`;

    before(async () => {
      fake = await startFakeProvider();
      process.env[apiKeyEnv] = 'sk-fake-chat';
      providerOrg = await harness.newOrg('chat-provider');
      providerLearner = await providerOrg.addProfile('member', 'Provider learner');
      await configureFakeModels(providerOrg.admin, fake.url, apiKeyEnv, [
        { purpose: 'text', modelName: 'fake-chat-1', isDefault: true },
        { purpose: 'transcription', modelName: 'fake-whisper-1', isDefault: true },
      ]);
    });

    after(async () => {
      await fake?.close();
    });

    test('an audio-only turn is transcribed (the audio stays attached); the reply is in character and streams its text', async () => {
      const { voice: _voice, ...silentPersona } = example;
      const { simulationId } = await createSimulation(providerOrg, 'Jordan', silentPersona);
      const attempt = await startAttempt(providerLearner.client, simulationId);
      const spoken = await synthesizeSpeechOffline('Can I get an extension?');
      const audioId = await upload(providerLearner.client, '/attempt/audio_upload', spoken.wav, 'audio/wav', 'turn.wav');
      const imageId = await upload(providerLearner.client, '/scenario/image_upload', await noisePng(24, 24, 4), 'image/png', 'note.png');
      fake.reset();
      fake.enqueue({ reply: 'Can I get an extension?' });

      const sent = await providerLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, audio_upload_ids: [audioId], image_upload_ids: [imageId] });
      assert.equal(sent.status, 200, sent.text);
      const frames = await watchRunToEnd(providerLearner.client, 'attempt', sent.body.run_id);
      assert.equal(frameKinds(frames).at(-1), 'complete');
      assert.ok(!frameKinds(frames).includes('media_complete'), 'a persona without a voice is not spoken');

      const transcription = fake.requests.find((request) => request.path.endsWith('/audio/transcriptions'));
      assert.ok(transcription, 'the audio went to the transcription model');
      const chat = fake.requests.find((request) => request.path.endsWith('/chat/completions'))!;
      const system = chat.body.messages.find((message: any) => message.role === 'system' || message.role === 'developer');
      assert.match(String(system.content), /You are Jordan/);
      const learnerTurn = chat.body.messages.findLast((message: any) => message.role === 'user');
      assert.equal(typeof learnerTurn.content, 'string', 'a model without accepts_images got the image itself');
      assert.match(learnerTurn.content, /attached 1 image/);
      assert.match(String(system.content), new RegExp(String(FAMILIES.scenario.example.learner_goal).slice(0, 30)));

      const [turn, reply] = await groupMessages(providerLearner.client, attempt.data.group_id);
      assert.equal(turn.text, 'Can I get an extension?');
      assert.deepEqual(turn.audio_upload_ids, [audioId]);
      assert.deepEqual(turn.image_upload_ids, [imageId]);
      assert.match(reply.text, /^Fake reply to: Can I get an extension\?/);
      assert.equal(progressTexts(frames).at(-1), reply.text);
      assert.equal((await download(providerLearner.client, '/system/audio_download', { audio_id: audioId })).status, 200);
      assert.equal((await download(providerOrg.admin, '/system/image_download', { image_id: imageId })).status, 200);
    });

    test('spoken instructions on /persona/generate are transcribed, read by the model with the typed ones, and kept with their audio on the run\'s user message', async () => {
      const spoken = await synthesizeSpeechOffline('A night-shift nurse');
      const audioId = await upload(providerLearner.client, '/attempt/audio_upload', spoken.wav, 'audio/wav', 'idea.wav');
      fake.reset();
      fake.enqueue({ reply: 'Make her a night-shift nurse who is always tired' });
      const triggered = await providerLearner.client.post('/persona/generate', { instructions: ['A patient persona'], audio: { upload_id: audioId } });
      assert.equal(triggered.status, 200, triggered.text);
      const frames = await watchRunToEnd(providerLearner.client, 'persona', triggered.body.run_id);
      assert.equal(frameKinds(frames).at(-1), 'complete', JSON.stringify(frames.at(-1)?.data));
      assert.ok(fake.requests.some((request) => request.path.endsWith('/audio/transcriptions')), 'the audio went to the transcription model');
      const chat = fake.requests.find((request) => request.path.endsWith('/chat/completions'))!;
      const prompt = chat.body.messages.filter((message: any) => message.role === 'user').map((message: any) => String(message.content)).join('\n');
      assert.match(prompt, /A patient persona/);
      assert.match(prompt, /Spoken instructions \(transcribed\): Make her a night-shift nurse who is always tired/);
      const detail = await providerLearner.client.post('/system/group', { group_id: triggered.body.group_id, include_detail: true });
      const messages = detail.body.runs.find((run: any) => run.id === triggered.body.run_id).messages;
      const withAudio = messages.find((message: any) => message.audio_upload_ids.length > 0);
      assert.equal(withAudio.role, 'user');
      assert.equal(withAudio.text, 'Make her a night-shift nurse who is always tired');
      assert.deepEqual(withAudio.audio_upload_ids, [audioId]);

      // Cancelled while the model thinks: the run's record keeps the typed instructions beside the spoken ones.
      fake.reset();
      fake.enqueue({ reply: 'Something spoken' });
      fake.setDefault({ hang: true });
      try {
        const hanging = await providerLearner.client.post('/persona/generate', { instructions: ['Typed instructions'], audio: { upload_id: audioId } });
        assert.equal(hanging.status, 200, hanging.text);
        for (let waited = 0; !fake.requests.some((request) => request.path.endsWith('/chat/completions')); waited += 50) {
          assert.ok(waited < 10_000, 'the model call started');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal((await providerLearner.client.post('/persona/cancel', { run_id: hanging.body.run_id })).status, 200);
        assert.equal(frameKinds(await watchRunToEnd(providerLearner.client, 'persona', hanging.body.run_id)).at(-1), 'error');
        const cancelled = await providerLearner.client.post('/system/group', { group_id: hanging.body.group_id, include_detail: true });
        const texts = cancelled.body.runs.find((run: any) => run.id === hanging.body.run_id).messages.map((message: any) => message.text);
        assert.ok(texts.includes('Something spoken'), texts.join(' | '));
        assert.ok(texts.some((text: string) => text.includes('Typed instructions')), texts.join(' | '));
      } finally {
        fake.reset();
      }
    });

    test('a turn whose reply fails, or is cancelled, is given back: the last turn can be sent again, and only its answer ends the attempt', async () => {
      const { voice: _voice, ...silentPersona } = example;
      const { simulationId } = await createSimulation(providerOrg, 'Robin', silentPersona, { max_turns: 2 });
      const attempt = await startAttempt(providerLearner.client, simulationId);
      const turn = async (text: string) => {
        const sent = await providerLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text });
        assert.equal(sent.status, 200, sent.text);
        return sent.body.run_id as string;
      };
      const state = async () => (await providerLearner.client.post('/attempt/get', { id: attempt.id })).body.data;
      fake.reset();

      fake.enqueue({ reply: 'Hi.' });
      assert.equal(frameKinds(await watchRunToEnd(providerLearner.client, 'attempt', await turn('Hello.'))).at(-1), 'complete');
      assert.equal((await state()).turn_count, 1);

      // The last turn's reply fails (a refusal the SDK does not retry): the turn is given back and the attempt goes on.
      fake.enqueue({ status: 400, body: { error: { message: 'context too long', type: 'invalid_request_error' } } });
      const failed = await watchRunToEnd(providerLearner.client, 'attempt', await turn('One last thing.'));
      assert.equal(frameKinds(failed).at(-1), 'error');
      assert.deepEqual([(await state()).state, (await state()).turn_count], ['in_progress', 1]);

      // Cancelled by the learner while the model is slow: given back too.
      fake.enqueue({ hang: true });
      const slow = await turn('One last thing, again.');
      await eventually('the slow reply\'s model call', () => fake.requests.find((request) => JSON.stringify(request.body).includes('One last thing, again.')));
      assert.equal((await providerLearner.client.post('/attempt/cancel', { run_id: slow })).status, 200);
      assert.equal(frameKinds(await watchRunToEnd(providerLearner.client, 'attempt', slow)).at(-1), 'error');
      assert.deepEqual([(await state()).state, (await state()).turn_count], ['in_progress', 1]);

      // While the last turn's reply is being written no further turn is taken; its answer ends the attempt.
      fake.enqueue({ delayMs: 300, then: { reply: 'Goodbye.' } });
      const last = await turn('Thanks, bye.');
      const extra = await providerLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'And another thing' });
      assert.equal(extra.status, 409, extra.text);
      assert.match(extra.body.error.message, /has used all 2 turns; it ends when the persona's last reply is in/);
      assert.equal(frameKinds(await watchRunToEnd(providerLearner.client, 'attempt', last)).at(-1), 'complete');
      const ended = await state();
      assert.deepEqual([ended.state, ended.turn_count], ['completed', 2]);
      const lastReply = await providerOrg.admin.post('/attempt/group', { group_id: attempt.data.group_id, include_detail: true });
      const replyAt = lastReply.body.runs.find((run: any) => run.id === last).messages.find((message: any) => message.role === 'assistant').created_at;
      assert.ok(Date.parse(ended.ended_at) >= Date.parse(replyAt), 'the attempt ends once its last reply is in');
    });

    test('turns sent together: the attempt ends when the last of their replies is in, not the first', async () => {
      const { voice: _voice, ...silentPersona } = example;
      const { simulationId } = await createSimulation(providerOrg, 'Sky', silentPersona, { max_turns: 2 });
      const attempt = await startAttempt(providerLearner.client, simulationId);
      fake.reset();
      // The first reply asked for comes quickly, the other much later, whichever turn each answers.
      fake.enqueue({ delayMs: 800, then: { reply: 'Quick.' } });
      fake.enqueue({ delayMs: 2500, then: { reply: 'Slow.' } });
      const runs: string[] = [];
      for (const text of ['First.', 'Second.']) {
        const sent = await providerLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text });
        assert.equal(sent.status, 200, sent.text);
        runs.push(sent.body.run_id);
      }
      const watches = runs.map((runId) => watchRunToEnd(providerLearner.client, 'attempt', runId));
      await Promise.race(watches);
      const meanwhile = (await providerLearner.client.post('/attempt/get', { id: attempt.id })).body.data;
      assert.deepEqual([meanwhile.state, meanwhile.turn_count], ['in_progress', 2], 'one reply is still being written');
      await Promise.all(watches);
      const ended = (await providerLearner.client.post('/attempt/get', { id: attempt.id })).body.data;
      assert.deepEqual([ended.state, ended.turn_count], ['completed', 2]);
    });

    test('the simulation\'s agent drives the reply: its model, temperature, system prompt and guardrails', async () => {
      const agentOrg = await harness.newOrg('chat-agent');
      const agentLearner = await agentOrg.addProfile('member', 'Agent learner');
      const { modelIds: [, agentModelId] } = await configureFakeModels(agentOrg.admin, fake.url, apiKeyEnv, [
        { purpose: 'text', modelName: 'fake-default-1', isDefault: true },
        { purpose: 'text', modelName: 'fake-agent-1' },
      ]);
      const agent = await agentOrg.admin.post('/agent/create', {
        name: 'Strict roleplayer',
        data: { purpose: 'persona_roleplay', system_prompt: 'Answer in exactly one short sentence.', model_id: agentModelId, temperature: 0.3, guardrails: ['Never mention grades'] },
      });
      assert.equal(agent.status, 200, agent.text);
      const { voice: _voice, ...silentPersona } = example;
      const { simulationId } = await createSimulation(agentOrg, 'Jordan', silentPersona, { agent_id: agent.body.id });
      const attempt = await startAttempt(agentLearner.client, simulationId);
      fake.reset();
      fake.enqueue({ reply: 'Fine.' });

      const sent = await agentLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'How are you?' });
      assert.equal(sent.status, 200, sent.text);
      assert.equal(frameKinds(await watchRunToEnd(agentLearner.client, 'attempt', sent.body.run_id)).at(-1), 'complete');
      const chat = fake.requests.find((request) => request.path.endsWith('/chat/completions'))!;
      assert.equal(chat.body.model, 'fake-agent-1');
      assert.equal(chat.body.temperature, 0.3);
      const system = String(chat.body.messages.find((message: any) => message.role === 'system' || message.role === 'developer').content);
      assert.match(system, /^Answer in exactly one short sentence\./);
      assert.match(system, /Rules you never break: Never mention grades/);
      assert.match(system, /You are Jordan/);
      const detail = await agentLearner.client.post('/attempt/group', { group_id: attempt.data.group_id });
      assert.equal(detail.body.runs[0].model_id, agentModelId);
      assert.equal(detail.body.runs[0].agent_id, agent.body.id, 'the group detail names the agent that chose the model');
    });

    test('a model that accepts images sees the learner\'s image with the turn, as the bytes uploaded', async () => {
      const visionOrg = await harness.newOrg('chat-vision');
      const visionLearner = await visionOrg.addProfile('member', 'Vision learner');
      await configureFakeModels(visionOrg.admin, fake.url, apiKeyEnv, [{ purpose: 'text', modelName: 'fake-vision-1', isDefault: true, acceptsImages: true }]);
      const { voice: _voice, ...silentPersona } = example;
      const { simulationId } = await createSimulation(visionOrg, 'Jordan', silentPersona);
      const attempt = await startAttempt(visionLearner.client, simulationId);
      const png = await noisePng(24, 24, 5);
      const imageId = await upload(visionLearner.client, '/scenario/image_upload', png, 'image/png', 'draft.png');
      fake.reset();
      fake.enqueue({ reply: 'That chart is upside down.' });

      const sent = await visionLearner.client.post('/attempt/chat_message', { attempt_id: attempt.id, text: 'Here is my draft.', image_upload_ids: [imageId] });
      assert.equal(sent.status, 200, sent.text);
      const frames = await watchRunToEnd(visionLearner.client, 'attempt', sent.body.run_id);
      assert.equal(frameKinds(frames).at(-1), 'complete');

      const chat = fake.requests.find((request) => request.path.endsWith('/chat/completions'))!;
      const learnerTurn = chat.body.messages.findLast((message: any) => message.role === 'user');
      assert.ok(Array.isArray(learnerTurn.content), `the turn was sent as text only: ${JSON.stringify(learnerTurn.content)}`);
      assert.match(learnerTurn.content.find((part: any) => part.type === 'text').text, /Here is my draft\./);
      const image = learnerTurn.content.find((part: any) => part.type === 'image_url');
      const [, mediaType, base64] = /^data:([^;]+);base64,(.*)$/.exec(image.image_url.url) ?? [];
      assert.equal(mediaType, 'image/png');
      assert.ok(Buffer.from(base64!, 'base64').equals(png), 'the model got other bytes than the learner uploaded');
    });
  });
});
