// The media generation suite: registers its tests when imported (see index.ts). Scenario images
// and videos and persona voices produced by generation runs, offline and through a fake provider.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { wavDurationSeconds } from '../../src/llm/media.ts';
import { probeMedia } from '../../src/synthesis/video.ts';
import { noisePng } from '../fixtures/media-files.ts';
import { FAKE_SPEECH_WAV, startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { getHarness, type ApiClient, type Harness, type TestOrg } from '../support/harness.ts';
import { configureFakeModels } from '../support/fake-models.ts';
import { frameKinds, watchRunToEnd, type Frame } from '../support/sse-watch.ts';

const GLOW_BIN = path.resolve(import.meta.dirname, '../../bin/glow.js');

async function generate(client: ApiClient, type: string, body: Record<string, unknown>) {
  const response = await client.post(`/${type}/generate`, body);
  assert.equal(response.status, 200, response.text);
  return response.body as { group_id: string; run_id: string; produced_media: any[] };
}

async function download(client: ApiClient, route: string, body: Record<string, string>): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(`${client.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${client.token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** `first` happens before `second` in the frames (both present). */
function assertBefore(kinds: string[], first: string, second: string): void {
  const a = kinds.indexOf(first);
  const b = kinds.indexOf(second);
  assert.ok(a >= 0 && b >= 0 && a < b, `${first} before ${second} in ${kinds.join(', ')}`);
}

const mediaComplete = (frames: Frame[]) => frames.find((frame) => frame.data.type === 'GenerationMediaCompleteEvent')?.data;

async function runMessages(client: ApiClient, groupId: string, runId: string): Promise<any[]> {
  const group = await client.post('/system/group', { group_id: groupId, include_detail: true });
  assert.equal(group.status, 200, group.text);
  return group.body.runs.find((run: any) => run.id === runId).messages;
}

function glow(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GLOW_BIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const scenarioWithoutMedia = () => {
  const data = structuredClone(FAMILIES.scenario.example) as Record<string, unknown>;
  delete data.image_upload_ids;
  delete data.video_upload_ids;
  return data;
};

describe('media generation', () => {
  let harness: Harness;
  let org: TestOrg;
  let outsider: TestOrg;

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('media-gen');
    outsider = await harness.newOrg('media-gen-outsider');
  });

  test('offline: a scenario image streams started, in_progress, media_complete, saved, complete; the image is a PNG on the scenario and in the run message', async () => {
    const handles = await generate(org.admin, 'scenario', { modality: 'image', title: 'University Office', instructions: ['Wide-angle shot, late afternoon light'] });
    const frames = await watchRunToEnd(org.admin, 'scenario', handles.run_id);
    const kinds = frameKinds(frames).filter((kind) => kind !== 'progress');
    assert.deepEqual(kinds.filter((kind, index) => kinds.indexOf(kind) === index), ['media_progress:started', 'media_progress:in_progress', 'media_complete', 'saved', 'complete']);
    assert.equal(kinds.filter((kind) => kind === 'media_complete').length, 1);
    const complete = mediaComplete(frames);
    const saved = frames.find((frame) => frame.data.type === 'GenerationSavedEvent')!.data;
    assert.equal(complete.modality, 'image');
    assert.equal(complete.mime_type, 'image/png');
    assert.equal(complete.resource_id, saved.artifact_id);
    for (const frame of frames.filter((item) => item.data.type === 'GenerationMediaProgressEvent')) assert.equal(frame.data.resource_id, saved.artifact_id);
    // The watcher is told the image is a placeholder, as it is told of offline text.
    assert.ok(
      frames.some((frame) => frame.data.type === 'GenerationMediaProgressEvent' && /a placeholder from the built-in offline generator, not a model.s work/.test(String(frame.data.message))),
      'a progress frame says the image is an offline placeholder',
    );

    const image = await download(org.admin, '/scenario/image_download', { image_id: complete.upload_id });
    assert.equal(image.status, 200);
    assert.equal(image.type, 'image/png');
    assert.equal(image.bytes.length, complete.file_size);
    const metadata = await sharp(image.bytes).metadata();
    assert.equal(metadata.format, 'png');
    assert.ok((metadata.width ?? 0) > 0 && (metadata.height ?? 0) > 0);

    const scenario = await org.admin.post('/scenario/get', { id: saved.artifact_id });
    assert.deepEqual(scenario.body.data.image_upload_ids, [complete.upload_id]);
    const messages = await runMessages(org.admin, handles.group_id, handles.run_id);
    const assistant = messages.filter((message) => message.role === 'assistant');
    assert.deepEqual(assistant.flatMap((message) => message.image_upload_ids), [complete.upload_id]);
    assert.equal((await download(outsider.admin, '/system/image_download', { image_id: complete.upload_id })).status, 404);
  });

  test('a video generation with wait_for_complete returns produced_media; the MP4 has a video stream and a duration', async () => {
    const handles = await generate(org.admin, 'scenario', { modality: 'video', title: 'Front desk', instructions: ['A busy front desk at opening time'], wait_for_complete: true });
    assert.equal(handles.produced_media.length, 1);
    const [produced] = handles.produced_media;
    assert.equal(produced.modality, 'video');
    assert.equal(produced.mime_type, 'video/mp4');
    const video = await download(org.admin, '/scenario/video_download', { video_id: produced.upload_id });
    assert.equal(video.status, 200);
    assert.equal(video.bytes.length, produced.file_size);
    const probed = await probeMedia(video.bytes);
    assert.ok(probed.hasVideo, 'has a video stream');
    assert.ok(probed.durationSeconds > 0, `duration ${probed.durationSeconds}`);
    const scenario = await org.admin.post('/scenario/get', { id: produced.resource_id });
    assert.deepEqual(scenario.body.data.video_upload_ids, [produced.upload_id]);
  });

  test('long instructions make a video with about half a minute of narration, not one as long as the text; control characters in them do not break the card', async () => {
    const words = 'the learner waits in the corridor outside the office '.repeat(300);
    const handles = await generate(org.admin, 'scenario', { modality: 'video', title: 'Corridor \u0007 wait', instructions: [words, `an \u001b[31m escape`], wait_for_complete: true });
    assert.equal((handles as { status?: string }).status, 'completed', JSON.stringify(handles));
    const video = await download(org.admin, '/scenario/video_download', { video_id: handles.produced_media[0].upload_id });
    const probed = await probeMedia(video.bytes);
    assert.ok(probed.durationSeconds > 5 && probed.durationSeconds < 60, `duration ${probed.durationSeconds} s`);
    const image = await generate(org.admin, 'scenario', { modality: 'image', title: 'Bell \u0007 tower', instructions: ['a lab \u001b x'], wait_for_complete: true });
    assert.equal((image as { status?: string }).status, 'completed', JSON.stringify(image));
  });

  test('config.params.artifact_id only attaches media to the scenario: media_complete then complete, no saved', async () => {
    const created = await org.admin.post('/scenario/create', { name: 'Existing office', data: scenarioWithoutMedia() });
    assert.equal(created.status, 200, created.text);
    const handles = await generate(org.admin, 'scenario', { modality: 'image', instructions: ['Rainy window'], config: { params: { artifact_id: created.body.id } }, wait_for_complete: true });
    const frames = await watchRunToEnd(org.admin, 'scenario', handles.run_id);
    const kinds = frameKinds(frames);
    assert.ok(!kinds.includes('saved'), kinds.join(', '));
    assertBefore(kinds, 'media_progress:started', 'media_complete');
    assertBefore(kinds, 'media_complete', 'complete');
    assert.equal(frames.at(-1)!.data.artifact_id, created.body.id);
    assert.equal(handles.produced_media[0].resource_id, created.body.id);
    const scenario = await org.admin.post('/scenario/get', { id: created.body.id });
    assert.deepEqual(scenario.body.data.image_upload_ids, [handles.produced_media[0].upload_id]);
    assert.equal(scenario.body.version, 2);
    const messages = await runMessages(org.admin, handles.group_id, handles.run_id);
    assert.deepEqual(messages.filter((message) => message.role === 'assistant').flatMap((message) => message.image_upload_ids), [handles.produced_media[0].upload_id]);
  });

  test('attaching is checked at trigger time: unknown or invisible record 404, another author 403, a modality the family lacks 400', async () => {
    assert.equal((await org.admin.post('/scenario/generate', { modality: 'image', config: { params: { artifact_id: randomUUID() } } })).status, 404);
    const foreign = await outsider.admin.post('/scenario/create', { name: 'Foreign', data: scenarioWithoutMedia() });
    assert.equal((await org.admin.post('/scenario/generate', { modality: 'image', config: { params: { artifact_id: foreign.body.id } } })).status, 404);
    const member = await org.addProfile('member');
    const adminScenario = await org.admin.post('/scenario/create', { name: 'Admin office', data: scenarioWithoutMedia() });
    assert.equal((await member.client.post('/scenario/generate', { modality: 'image', config: { params: { artifact_id: adminScenario.body.id } } })).status, 403);
    const wrongModality = await org.admin.post('/persona/generate', { modality: 'image', instructions: ['x'] });
    assert.equal(wrongModality.status, 400);
    assert.match(wrongModality.body.error.message, /persona generation cannot produce image/);
    assert.equal((await org.admin.post('/rubric/generate', { modality: 'video' })).status, 400);
    // A media parameter on a run that makes no such media is refused, not ignored.
    const imageModelOnText = await org.admin.post('/scenario/generate', { instructions: ['x'], config: { params: { image_model_id: 'offline' } } });
    assert.equal(imageModelOnText.status, 400);
    assert.equal(imageModelOnText.body.error.message, "config.params.image_model_id: applies to image and video generation only; this run's modality is text (none given).");
    const speechModelOnImage = await org.admin.post('/scenario/generate', { modality: 'image', config: { params: { speech_model_id: 'offline', artifact_id: adminScenario.body.id } } });
    assert.equal(speechModelOnImage.status, 400);
    assert.deepEqual(speechModelOnImage.body.error.details.fields.map((field: { path: string }) => field.path), ['config.params.speech_model_id']);
    const attachOnText = await org.admin.post('/scenario/generate', { modality: 'text', instructions: ['x'], config: { params: { artifact_id: adminScenario.body.id } } });
    assert.match(attachOnText.body.error.message, /config\.params\.artifact_id: applies to image, video and audio generation/);
  });

  test('offline: persona generation with modality audio speaks a voice sample: a WAV with a duration, linked to the persona and in the run message', async () => {
    const handles = await generate(org.admin, 'persona', { instructions: ['A nervous first-year student who speaks quickly'], modality: 'audio', wait_for_complete: true });
    const [produced] = handles.produced_media;
    assert.equal(produced.modality, 'audio');
    assert.equal(produced.mime_type, 'audio/wav');
    const persona = await org.admin.post('/persona/get', { id: produced.resource_id });
    assert.equal(persona.status, 200);
    const audio = await download(org.admin, '/system/audio_download', { audio_id: produced.upload_id });
    assert.equal(audio.status, 200);
    assert.equal(audio.bytes.subarray(0, 4).toString('ascii'), 'RIFF');
    assert.ok((wavDurationSeconds(audio.bytes) ?? 0) > 0.2, 'speech lasts');
    const messages = await runMessages(org.admin, handles.group_id, handles.run_id);
    assert.deepEqual(messages.filter((message) => message.role === 'assistant').flatMap((message) => message.audio_upload_ids), [produced.upload_id]);
    // Readable with the persona: a member who may read it may download its voice.
    const member = await org.addProfile('member');
    assert.equal((await download(member.client, '/system/audio_download', { audio_id: produced.upload_id })).status, 200);
  });

  describe('through a provider (the fake OpenAI-compatible server)', () => {
    let fake: FakeProvider;
    let providerOrg: TestOrg;
    const apiKeyEnv = `GLOW_TEST_MEDIA_KEY_${process.pid}`;

    before(async () => {
      fake = await startFakeProvider();
      process.env[apiKeyEnv] = 'sk-fake-media';
      providerOrg = await harness.newOrg('media-provider');
      await configureFakeModels(providerOrg.admin, fake.url, apiKeyEnv, [
        { purpose: 'image', modelName: 'fake-image-1', isDefault: true },
        { purpose: 'speech', modelName: 'fake-tts-1', isDefault: true },
        { purpose: 'transcription', modelName: 'fake-whisper-1', isDefault: true },
      ]);
    });

    after(async () => {
      await fake?.close();
    });

    test("the stored image is the provider's bytes, asked for with the title and instructions", async () => {
      fake.reset();
      const providerPng = await noisePng(48, 32, 5);
      fake.enqueue({ bytes: providerPng });
      const handles = await generate(providerOrg.admin, 'scenario', { modality: 'image', title: 'University Office', instructions: ['Wide-angle shot'], wait_for_complete: true });
      const image = await download(providerOrg.admin, '/system/image_download', { image_id: handles.produced_media[0].upload_id });
      assert.ok(image.bytes.equals(providerPng), 'the bytes the provider sent');
      const request = fake.requests.find((item) => item.path.endsWith('/images/generations'))!;
      assert.equal(request.body.model, 'fake-image-1');
      assert.match(request.body.prompt, /University Office[\s\S]*Wide-angle shot/);
      const frames = await watchRunToEnd(providerOrg.admin, 'scenario', handles.run_id);
      assert.ok(!frames.some((frame) => /placeholder/i.test(String(frame.data.message ?? ''))), 'a model\'s image is not called a placeholder');
    });

    test('config.params.image_model_id picks the image model: "offline" makes the placeholder, with no call to the default image model', async () => {
      fake.reset();
      const handles = await generate(providerOrg.admin, 'scenario', { modality: 'image', title: 'Quiet library', instructions: ['Evening light'], config: { params: { image_model_id: 'offline' } }, wait_for_complete: true });
      assert.equal((handles as { status?: string }).status, 'completed', JSON.stringify(handles));
      assert.equal(handles.produced_media.length, 1);
      assert.equal(fake.requests.filter((item) => item.path.endsWith('/images/generations')).length, 0, 'the org default image model was not asked');
      const frames = await watchRunToEnd(providerOrg.admin, 'scenario', handles.run_id);
      assert.ok(frames.some((frame) => /placeholder from the built-in offline generator/.test(String(frame.data.message ?? ''))), 'said to be a placeholder');
    });

    test("a persona's voice sample uses the persona's voice and stores the provider's speech", async () => {
      fake.reset();
      const data: Record<string, unknown> = { ...structuredClone(FAMILIES.persona.example), voice: { voice_id: 'nova', speed: 1.1 } };
      const persona = await providerOrg.admin.post('/persona/create', { name: 'Voiced Maya', data });
      assert.equal(persona.status, 200, persona.text);
      const handles = await generate(providerOrg.admin, 'persona', { modality: 'audio', config: { params: { artifact_id: persona.body.id } }, wait_for_complete: true });
      assert.equal(handles.produced_media.length, 1);
      const audio = await download(providerOrg.admin, '/system/audio_download', { audio_id: handles.produced_media[0].upload_id });
      assert.ok(audio.bytes.equals(FAKE_SPEECH_WAV));
      const speech = fake.requests.find((item) => item.path.endsWith('/audio/speech'))!;
      assert.equal(speech.body.voice, 'nova');
      assert.equal(speech.body.input, data.opening_line ?? data.description);
    });

    test('a failing image step ends the run with an error naming the scenario; its text stays saved; the CLI --wait exits 1', async () => {
      fake.reset();
      fake.enqueue({ status: 400, body: { error: { message: 'content policy', type: 'invalid_request_error' } } });
      const handles = await generate(providerOrg.admin, 'scenario', { modality: 'image', title: 'Broken', instructions: ['Anything'] });
      const frames = await watchRunToEnd(providerOrg.admin, 'scenario', handles.run_id);
      const kinds = frameKinds(frames);
      assert.equal(kinds.at(-1), 'error');
      assert.ok(!kinds.includes('media_complete'));
      const error = frames.at(-1)!.data;
      const saved = frames.find((frame) => frame.data.type === 'GenerationSavedEvent')!.data;
      assert.equal(error.resource_type, 'scenario');
      assert.equal(error.resource_id, saved.artifact_id);
      assert.equal(error.modality, 'image');
      assert.match(error.message, /image "Broken"/);
      const scenario = await providerOrg.admin.post('/scenario/get', { id: saved.artifact_id });
      assert.equal(scenario.status, 200);
      assert.equal(scenario.body.data.image_upload_ids, undefined);

      fake.enqueue({ status: 400, body: { error: { message: 'content policy', type: 'invalid_request_error' } } });
      const cli = await glow(['scenarios', 'generate', 'image', 'X', '--instructions', 'Anything', '--wait'], { GLOW_INSTANCE_URL: harness.baseUrl, GLOW_TOKEN: providerOrg.admin.token! });
      assert.equal(cli.code, 1, cli.stdout + cli.stderr);
      assert.match(cli.stdout + cli.stderr, /media_progress|started/i);
    });
  });
});
