import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import { insertArtifact } from '../../src/artifacts/store.ts';
import { loadConfig, type Environment } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createModelGateway } from '../../src/llm/gateway.ts';
import { createMediaGateway, wavDurationSeconds, type MediaGateway } from '../../src/llm/media.ts';
import { ModelCallError } from '../../src/llm/types.ts';
import { ffmpegPath, probeMedia } from '../../src/synthesis/video.ts';
import { FAKE_IMAGE_PNG, FAKE_SPEECH_WAV, startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';

const KEY_VARIABLE = 'GLOW_TEST_MEDIA_KEY';
const orgId = uuidv7();
const offlineOrgId = uuidv7();
const authorId = uuidv7();

let database: Database;
let dataDir: string;
let fake: FakeProvider;
let media: MediaGateway;
const models: Record<string, string> = {};

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-llm-media-'));
  database = await openDatabase({ dataDir });
  await migrateToLatest(database);
  await database.db.insertInto('orgs').values([{ id: orgId, name: 'llm-media' }, { id: offlineOrgId, name: 'llm-media-offline' }]).execute();
  fake = await startFakeProvider();
  process.env[KEY_VARIABLE] = 'media-secret';
  media = mediaWith();

  const provider = await addProvider({ kind: 'openai_compatible', base_url: fake.url, api_key_env: KEY_VARIABLE });
  const slowProvider = await addProvider({ kind: 'openai_compatible', base_url: fake.url, api_key_env: KEY_VARIABLE, timeout_ms: 1000 });
  const openaiProvider = await addProvider({ kind: 'openai', base_url: fake.url, api_key_env: KEY_VARIABLE });
  const anthropicProvider = await addProvider({ kind: 'anthropic', base_url: fake.url, api_key_env: KEY_VARIABLE });
  models.image = await addModel(provider.id, 'image', 'fake-image-1', true);
  models.speech = await addModel(provider.id, 'speech', 'fake-tts-1', true);
  models.transcription = await addModel(provider.id, 'transcription', 'fake-whisper-1', true);
  models.slowImage = await addModel(slowProvider.id, 'image', 'slow-image');
  models.openaiImage = await addModel(openaiProvider.id, 'image', 'gpt-image-1');
  models.openaiSpeech = await addModel(openaiProvider.id, 'speech', 'gpt-4o-mini-tts');
  models.anthropicImage = await addModel(anthropicProvider.id, 'image', 'claude-draws');
});
after(async () => {
  await fake.close();
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
  delete process.env[KEY_VARIABLE];
});
beforeEach(() => {
  fake.reset();
  process.env[KEY_VARIABLE] = 'media-secret';
});

async function addProvider(data: Record<string, unknown>) {
  return insertArtifact(database.db, { orgId, type: 'provider', name: `Provider ${String(data.kind)}`, description: '', status: 'published', data, createdBy: authorId });
}

async function addModel(providerId: string, purpose: string, modelName: string, isDefault = false): Promise<string> {
  const row = await insertArtifact(database.db, {
    orgId, type: 'model', name: modelName, description: '', status: 'published', createdBy: authorId,
    data: { provider_id: providerId, model_name: modelName, purpose, input_price_per_token: 0, output_price_per_token: 0, ...(isDefault ? { is_default: true } : {}) },
  });
  return row.id;
}

// No OPENAI_API_KEY or GLOW_LLM_BASE_URL from the machine running the tests leaks in.
const mediaWith = (environment: Partial<Environment> = {}): MediaGateway => createMediaGateway({ database, config: loadConfig({}, { GLOW_PROVIDER_KEY_ENVS: KEY_VARIABLE, ...environment }) });

function isCallError(kind: ModelCallError['kind'], pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ModelCallError, `expected a ModelCallError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

async function mp3Bytes(): Promise<Buffer> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'glow-mp3-'));
  try {
    const output = path.join(folder, 'tone.mp3');
    await promisify(execFile)(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'libmp3lame', '-b:a', '64k', output]);
    return readFileSync(output);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('images through a provider', () => {
  it("returns the provider's PNG, asked for with the prompt, the model name and the named key", async () => {
    const image = await media.generateImage({ orgId, title: 'University Office', instructions: ['Wide-angle shot, late afternoon light'], size: '1024x1024' });
    assert.deepEqual(image.bytes, FAKE_IMAGE_PNG);
    assert.equal(image.mimeType, 'image/png');
    assert.equal(image.modelId, models.image);
    assert.equal(image.offline, false);
    assert.deepEqual([image.width, image.height], [1, 1]);
    const metadata = await sharp(image.bytes).metadata();
    assert.equal(metadata.format, 'png');

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    assert.equal(request!.path, '/v1/images/generations');
    assert.equal(request!.headers.authorization, 'Bearer media-secret');
    assert.equal(request!.body.model, 'fake-image-1');
    assert.equal(request!.body.n, 1);
    assert.equal(request!.body.size, '1024x1024');
    assert.equal(request!.body.response_format, 'b64_json');
    assert.match(request!.body.prompt, /University Office/);
    assert.match(request!.body.prompt, /Wide-angle shot, late afternoon light/);
  });

  it('sends an explicit prompt as it is, to an OpenAI provider record', async () => {
    const image = await media.generateImage({ orgId, modelId: models.openaiImage, prompt: 'A quiet library at dusk', instructions: [] });
    assert.deepEqual(image.bytes, FAKE_IMAGE_PNG);
    assert.equal(fake.requests[0]!.body.prompt, 'A quiet library at dusk');
    assert.equal(fake.requests[0]!.body.model, 'gpt-image-1');
    assert.equal(fake.requests[0]!.headers.authorization, 'Bearer media-secret');
  });

  it('retries a 500 twice, then succeeds', async () => {
    fake.enqueue({ status: 500, headers: { 'retry-after-ms': '10' } }, 2);
    const image = await media.generateImage({ orgId, instructions: ['A staff room'] });
    assert.deepEqual(image.bytes, FAKE_IMAGE_PNG);
    assert.deepEqual(fake.requests.map((request) => request.path), Array(3).fill('/v1/images/generations'));
  });

  it('gives up after the retries with a provider error carrying the status', async () => {
    fake.enqueue({ status: 503, headers: { 'retry-after-ms': '10' } }, 3);
    await assert.rejects(media.generateImage({ orgId, instructions: ['A staff room'] }), (error: unknown) => {
      isCallError('provider', /503/)(error);
      assert.equal((error as ModelCallError).status, 503);
      return true;
    });
    assert.equal(fake.requests.length, 3);
  });

  it('rejects bytes that are not an image with a provider error that says so', async () => {
    fake.enqueue({ bytes: Buffer.from('<html>Service temporarily unavailable</html>') });
    await assert.rejects(media.generateImage({ orgId, instructions: ['A staff room'] }), isCallError('provider', /fake-image-1.*not an image/));
    fake.enqueue({ bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>') });
    await assert.rejects(media.generateImage({ orgId, instructions: ['A staff room'] }), isCallError('provider', /not a PNG, JPEG, WebP or GIF image.*svg/));
  });

  it('accepts a JPEG and reports its type and size', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    fake.enqueue({ bytes: jpeg });
    const image = await media.generateImage({ orgId, instructions: ['A staff room'] });
    assert.deepEqual(image.bytes, jpeg);
    assert.equal(image.mimeType, 'image/jpeg');
    assert.deepEqual([image.width, image.height], [64, 48]);
  });

  it('times out on a server that never answers, without retrying', async () => {
    fake.setDefault({ hang: true });
    const started = Date.now();
    await assert.rejects(media.generateImage({ orgId, modelId: models.slowImage, instructions: ['A staff room'] }), isCallError('timeout', /slow-image.*1000 ms/));
    assert.ok(Date.now() - started < 5000, 'fails at the provider timeout');
    assert.equal(fake.requests.length, 1);
  });

  it("stops with the caller's reason when the caller aborts", async () => {
    fake.setDefault({ hang: true });
    const controller = new AbortController();
    // Abort only once the request is at the server: aborted earlier, it could still land after the next test's reset.
    const abortWhenSent = setInterval(() => {
      if (fake.requests.length > 0) {
        clearInterval(abortWhenSent);
        controller.abort(new Error('run cancelled'));
      }
    }, 5);
    await assert.rejects(media.generateImage({ orgId, instructions: ['x'], signal: controller.signal }), /run cancelled/);
    clearInterval(abortWhenSent);
  });

  it('reads the key when the call is made: missing, it is a configuration error and nothing is sent', async () => {
    delete process.env[KEY_VARIABLE];
    await assert.rejects(media.generateImage({ orgId, instructions: ['x'] }), isCallError('configuration', new RegExp(KEY_VARIABLE)));
    assert.equal(fake.requests.length, 0);
  });

  it('refuses a media model on Anthropic as a configuration error', async () => {
    await assert.rejects(media.generateImage({ orgId, modelId: models.anthropicImage, instructions: ['x'] }), isCallError('configuration', /Anthropic/));
    assert.equal(fake.requests.length, 0);
  });

  it('resolves through the text gateway when one is given', async () => {
    const config = loadConfig({}, { GLOW_PROVIDER_KEY_ENVS: KEY_VARIABLE });
    const viaText = createMediaGateway({ database, config, text: createModelGateway({ database, config }) });
    const image = await viaText.generateImage({ orgId, instructions: ['x'] });
    assert.equal(image.modelId, models.image);
  });
});

describe('speech through a provider', () => {
  it("returns the provider's WAV with its duration, asked for with the voice, speed and text", async () => {
    const speech = await media.synthesizeSpeech({ orgId, text: 'Uh, hello professor.', voice: { voice_id: 'nova', speed: 0.95, language: 'en-US' } });
    assert.deepEqual(speech.bytes, FAKE_SPEECH_WAV);
    assert.equal(speech.mimeType, 'audio/wav');
    assert.equal(speech.offline, false);
    assert.equal(speech.modelId, models.speech);
    assert.ok(Math.abs(speech.durationSeconds! - 0.01) < 1e-9);
    const [request] = fake.requests;
    assert.equal(request!.path, '/v1/audio/speech');
    assert.equal(request!.headers.authorization, 'Bearer media-secret');
    assert.deepEqual(
      { model: request!.body.model, input: request!.body.input, voice: request!.body.voice, speed: request!.body.speed, response_format: request!.body.response_format },
      { model: 'fake-tts-1', input: 'Uh, hello professor.', voice: 'nova', speed: 0.95, response_format: 'mp3' },
    );
  });

  it('recognises MP3 bytes and measures them', async () => {
    const mp3 = await mp3Bytes();
    fake.enqueue({ bytes: mp3, contentType: 'audio/mpeg' });
    const speech = await media.synthesizeSpeech({ orgId, modelId: models.openaiSpeech, text: 'Hello.' });
    assert.deepEqual(speech.bytes, mp3);
    assert.equal(speech.mimeType, 'audio/mpeg');
    assert.ok(Math.abs(speech.durationSeconds! - 1) < 0.15, `about a second, got ${speech.durationSeconds}`);
    assert.equal(fake.requests[0]!.body.model, 'gpt-4o-mini-tts');
  });

  it('rejects bytes that are not audio', async () => {
    fake.enqueue({ bytes: Buffer.from('{"error":"oops"}'), contentType: 'audio/mpeg' });
    await assert.rejects(media.synthesizeSpeech({ orgId, text: 'Hello.' }), isCallError('provider', /not audio/));
  });
});

describe('transcription through a provider', () => {
  it("returns the provider's text, sending the audio with its declared type", async () => {
    fake.enqueue({ reply: 'I did not finish the reading.' });
    const transcript = await media.transcribe({ orgId, audio: FAKE_SPEECH_WAV, mimeType: 'audio/webm;codecs=opus' });
    assert.deepEqual(transcript, { text: 'I did not finish the reading.', modelId: models.transcription });
    const [request] = fake.requests;
    assert.equal(request!.path, '/v1/audio/transcriptions');
    assert.equal(request!.headers.authorization, 'Bearer media-secret');
    assert.match(request!.headers['content-type']!, /^multipart\/form-data/);
    assert.match(request!.body, /name="model"\r\n\r\nfake-whisper-1/);
    assert.match(request!.body, /filename="audio\.webm"/);
    assert.match(request!.body, /Content-Type: audio\/webm/i);
  });

  it('is an empty transcript when the provider heard nothing', async () => {
    fake.enqueue({ reply: '' });
    const transcript = await media.transcribe({ orgId, audio: FAKE_SPEECH_WAV, mimeType: 'audio/wav' });
    assert.deepEqual(transcript, { text: '', modelId: models.transcription });
  });
});

describe('video composed from provider media', () => {
  it("makes an MP4 from the provider's frame and narration", async () => {
    const video = await media.generateVideo({ orgId, title: 'Office hours', instructions: ['A student arrives late'] });
    assert.equal(video.mimeType, 'video/mp4');
    assert.equal(video.offline, false);
    assert.equal(video.modelId, models.image);
    assert.equal(video.speechModelId, models.speech);
    assert.deepEqual([video.width, video.height], [720, 720], 'the 1x1 frame is enlarged to a playable size');
    assert.equal(video.bytes.subarray(4, 8).toString('ascii'), 'ftyp');
    const probed = await probeMedia(video.bytes);
    assert.ok(probed.hasVideo && probed.hasAudio);
    assert.ok(probed.durationSeconds >= 1.9, `at least the minimum length, got ${probed.durationSeconds}`);
    assert.deepEqual(fake.requests.map((request) => request.path), ['/v1/images/generations', '/v1/audio/speech']);
    assert.equal(fake.requests[1]!.body.input, 'Office hours. A student arrives late');
  });

  it('fails with the provider error when the frame cannot be made', async () => {
    fake.enqueue({ bytes: Buffer.from('garbage') });
    await assert.rejects(media.generateVideo({ orgId, instructions: ['x'] }), isCallError('provider', /not an image/));
    assert.equal(fake.requests.length, 1, 'no narration is made for a video that cannot be');
  });
});

describe('offline', () => {
  it('draws a card marked offline, the size asked for', async () => {
    const image = await media.generateImage({ orgId: offlineOrgId, title: 'University Office', instructions: ['Wide-angle shot, late afternoon light'] });
    assert.equal(image.offline, true);
    assert.equal(image.modelId, 'offline');
    assert.equal(image.mimeType, 'image/png');
    const metadata = await sharp(image.bytes).metadata();
    assert.deepEqual([metadata.format, metadata.width, metadata.height], ['png', 1024, 576]);
    assert.deepEqual([image.width, image.height], [1024, 576]);
    assert.ok(metadata.exif?.toString('latin1').includes('Glow offline placeholder'));
    const square = await media.generateImage({ orgId: offlineOrgId, instructions: ['x'], size: '512x512' });
    assert.deepEqual([square.width, square.height], [512, 512]);
    // "offline" by name works in an org that has models.
    assert.equal((await media.generateImage({ orgId, modelId: 'offline', instructions: ['x'] })).offline, true);
    assert.equal(fake.requests.length, 0);
  });

  it('speaks with eSpeak NG into a WAV whose header agrees with its length', async () => {
    const speech = await media.synthesizeSpeech({ orgId: offlineOrgId, text: 'Uh, hello. I did not finish the reading.', voice: { voice_id: 'nova', language: 'en-US' } });
    assert.equal(speech.offline, true);
    assert.equal(speech.mimeType, 'audio/wav');
    assert.equal(speech.bytes.subarray(0, 4).toString('ascii'), 'RIFF');
    assert.equal(speech.bytes.subarray(8, 12).toString('ascii'), 'WAVE');
    assert.ok(speech.durationSeconds! > 1);
    assert.ok(Math.abs(wavDurationSeconds(speech.bytes)! - speech.durationSeconds!) < 0.01);
  });

  it('has no transcription: undefined, not a made-up transcript', async () => {
    assert.equal(await media.transcribe({ orgId: offlineOrgId, audio: FAKE_SPEECH_WAV, mimeType: 'audio/wav' }), undefined);
    assert.equal(fake.requests.length, 0);
  });

  it('composes a playable MP4 from the card and spoken narration', async () => {
    const video = await media.generateVideo({ orgId: offlineOrgId, title: 'University Office', instructions: ['Wide-angle shot, late afternoon light'], narrationText: 'Welcome to office hours. Please sit down.' });
    assert.equal(video.offline, true);
    assert.equal(video.modelId, 'offline');
    assert.deepEqual([video.width, video.height], [1024, 576]);
    assert.equal(video.bytes.subarray(4, 8).toString('ascii'), 'ftyp');
    const probed = await probeMedia(video.bytes);
    assert.ok(probed.hasVideo, 'has a video stream');
    assert.ok(probed.hasAudio, 'has the narration');
    assert.ok(probed.durationSeconds > 1.5, `lasts the narration, got ${probed.durationSeconds}`);
    assert.ok(Math.abs(probed.durationSeconds - video.durationSeconds) < 0.01);
  });

  it('marks a video offline when only its narration was offline', async () => {
    const video = await media.generateVideo({ orgId, modelId: models.image, speechModelId: 'offline', instructions: ['A lecture hall'] });
    assert.equal(video.offline, true);
    assert.equal(video.modelId, models.image);
    assert.equal(video.speechModelId, 'offline');
    assert.deepEqual(fake.requests.map((request) => request.path), ['/v1/images/generations']);
  });

  it("uses GLOW_LLM_BASE_URL for media through an explicit model artifact, with no Authorization when it has no key", async () => {
    const org = uuidv7();
    await database.db.insertInto('orgs').values({ id: org, name: `media-instance-${org}` }).execute();
    const add = (purpose: string, modelName: string) => insertArtifact(database.db, {
      orgId: org, type: 'model', name: modelName, description: '', status: 'published', createdBy: authorId,
      data: { provider_kind: 'openai_compatible', model_name: modelName, purpose, input_price_per_token: 0, output_price_per_token: 0, is_default: true },
    });
    await add('image', 'stablediffusion');
    await add('speech', 'piper');
    await add('transcription', 'whisper-base');
    const local = mediaWith({ GLOW_LLM_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-must-not-leak' });
    assert.equal((await local.generateImage({ orgId: org, instructions: ['x'] })).offline, false);
    assert.equal((await local.synthesizeSpeech({ orgId: org, text: 'Hello.' })).offline, false);
    fake.enqueue({ reply: 'hello' });
    assert.equal((await local.transcribe({ orgId: org, audio: FAKE_SPEECH_WAV, mimeType: 'audio/wav' }))?.text, 'hello');
    assert.deepEqual(fake.requests.map((request) => [request.path, request.headers.authorization]), [
      ['/v1/images/generations', undefined], ['/v1/audio/speech', undefined], ['/v1/audio/transcriptions', undefined],
    ]);
    assert.equal(fake.requests[0]!.body.model, 'stablediffusion');
  });

  it('does not treat GLOW_LLM_BASE_URL as a media server; OPENAI_API_KEY gives the OpenAI media defaults', async () => {
    const compatibleOnly = mediaWith({ GLOW_LLM_BASE_URL: fake.url, GLOW_LLM_MODEL: 'llama3.1' });
    assert.equal((await compatibleOnly.generateImage({ orgId: offlineOrgId, instructions: ['x'] })).offline, true);
    assert.equal(await compatibleOnly.transcribe({ orgId: offlineOrgId, audio: FAKE_SPEECH_WAV, mimeType: 'audio/wav' }), undefined);
    assert.equal(fake.requests.length, 0);

    const openai = mediaWith({ OPENAI_API_KEY: 'sk-env', OPENAI_BASE_URL: fake.url });
    const image = await openai.generateImage({ orgId: offlineOrgId, instructions: ['x'] });
    assert.equal(image.modelId, 'env:openai:gpt-image-1');
    assert.equal(fake.requests[0]!.headers.authorization, 'Bearer sk-env');
    assert.equal(fake.requests[0]!.body.response_format, undefined, 'gpt-image models always answer base64');
    fake.enqueue({ reply: 'hello' });
    assert.deepEqual(await openai.transcribe({ orgId: offlineOrgId, audio: FAKE_SPEECH_WAV, mimeType: 'audio/wav' }), { text: 'hello', modelId: 'env:openai:gpt-4o-transcribe' });
  });
});
