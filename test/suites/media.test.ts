// The media suite: registers its tests when imported (see index.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { sql } from 'kysely';
import { gzipSync } from 'node:zlib';
import { getHarness, startServer, ApiClient, type Harness, type TestOrg } from '../support/harness.ts';
import { executableLike, mp4Like, noisePng, smallJpeg, SVG_WITH_SCRIPT, tiffWithLateIfd, tinyPdf, wav, webmLike } from '../fixtures/media-files.ts';
import { ARTIFACT_TYPES } from '../../src/artifacts/types.ts';
import { checkSignature, looksLikeText } from '../../src/media/kinds.ts';
import { inlineDisposition, planDownload } from '../../src/media/http-download.ts';
import { BlobMissingError, BlobTooLargeError } from '../../src/media/blob-store.ts';
import { S3BlobStore } from '../../src/media/s3-blob-store.ts';
import { LocalBlobStore } from '../../src/media/local-blob-store.ts';
import { PreviewRenderer } from '../../src/media/preview-renderer.ts';
import { MediaService } from '../../src/media/service.ts';
import { startFakeS3 } from '../fixtures/fake-s3.ts';

interface BinaryResponse {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json?: any;
}

async function upload(
  client: ApiClient,
  route: string,
  file: { bytes: Buffer; type: string; filename?: string } | undefined,
  fields: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (file) form.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.filename ?? 'upload.bin');
  const response = await client.request('POST', route, { rawBody: form });
  return { status: response.status, body: response.body };
}

async function fetchBinary(client: ApiClient, route: string, body: unknown, headers: Record<string, string> = {}): Promise<BinaryResponse> {
  const response = await fetch(`${client.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${client.token}`, ...headers },
    body: JSON.stringify(body),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  // A 206 of a JSON document is a slice of it, not JSON.
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json') && bytes.length > 0 && response.status !== 206;
  return { status: response.status, headers: response.headers, bytes, json: isJson ? JSON.parse(bytes.toString('utf8')) : undefined };
}

/** Every file under the media folder (blobs and temporary files), as paths relative to it. */
function mediaFiles(mediaRoot: string): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    let entries: import('node:fs').Dirent[] = [];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else found.push(path.relative(mediaRoot, full));
    }
  };
  walk(mediaRoot);
  return found.sort();
}

async function until(condition: () => boolean | Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const UPLOAD_ROUTES = [
  { artifact: 'attempt', kind: 'audio', type: 'audio/wav', make: async () => wav(20_000) },
  { artifact: 'scenario', kind: 'image', type: 'image/png', make: () => noisePng(64, 64, 7) },
  { artifact: 'scenario', kind: 'video', type: 'video/mp4', make: async () => mp4Like(5000) },
  { artifact: 'document', kind: 'file', type: 'application/pdf', make: async () => tinyPdf('round trip') },
  { artifact: 'document', kind: 'text', type: 'text/plain', make: async () => Buffer.from('A transcript.\nWith ünïcödé.\n') },
] as const;

describe('media', () => {
  let harness: Harness;
  let orgA: TestOrg;
  let orgB: TestOrg;
  let mediaRoot: string;

  const uploadCount = async (orgId: string) =>
    Number((await harness.database.db.selectFrom('uploads').select((eb) => eb.fn.countAll().as('count')).where('org_id', '=', orgId).executeTakeFirstOrThrow()).count);

  /** Runs `action` and asserts it left no upload row in `org` and no new file in the media folder. */
  async function leavesNothing(org: TestOrg, action: () => Promise<void>): Promise<void> {
    const rowsBefore = await uploadCount(org.orgId);
    const filesBefore = mediaFiles(mediaRoot);
    await action();
    assert.equal(await uploadCount(org.orgId), rowsBefore, 'no upload row is left behind');
    assert.deepEqual(mediaFiles(mediaRoot), filesBefore, 'no blob or temporary file is left behind');
  }

  before(async () => {
    harness = await getHarness();
    orgA = await harness.newOrg('media-a');
    orgB = await harness.newOrg('media-b');
    mediaRoot = path.join(harness.config.dataDir, 'media');
  });

  test('each upload route stores the bytes and they download byte-identical through /system and the artifact alias', async () => {
    for (const route of UPLOAD_ROUTES) {
      const bytes = await route.make();
      const uploaded = await upload(orgA.admin, `/${route.artifact}/${route.kind}_upload`, { bytes, type: route.type, filename: `sample-${route.kind}` }, { name: `A ${route.kind}` });
      assert.equal(uploaded.status, 200, `${route.kind}: ${JSON.stringify(uploaded.body)}`);
      const { upload_id: uploadId } = uploaded.body;
      assert.deepEqual(Object.keys(uploaded.body).sort(), [`${route.kind}_id`, `${route.kind}s_id`, 'upload_id'].sort());
      assert.equal(uploaded.body[`${route.kind}_id`], uploadId);
      assert.notEqual(uploaded.body[`${route.kind}s_id`], uploadId);

      for (const artifact of ['system', route.artifact]) {
        for (const id of [uploadId, uploaded.body[`${route.kind}s_id`]]) {
          const download = await fetchBinary(orgA.admin, `/${artifact}/${route.kind}_download`, { [`${route.kind}_id`]: id });
          assert.equal(download.status, 200, `${artifact}/${route.kind}_download`);
          assert.ok(download.bytes.equals(bytes), `${artifact}/${route.kind}_download returns the same bytes`);
          assert.equal(download.headers.get('content-type')?.split(';')[0], route.type);
          assert.equal(download.headers.get('content-length'), String(bytes.length));
          assert.equal(download.headers.get('accept-ranges'), 'bytes');
          assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
          assert.equal(download.headers.get('content-disposition'), `inline; filename="sample-${route.kind}"; filename*=UTF-8''sample-${route.kind}`);
        }
      }
      const [row] = await harness.database.db.selectFrom('uploads').selectAll().where('id', '=', uploadId).execute();
      assert.equal(row!.kind, route.kind);
      assert.equal(row!.size, bytes.length);
      assert.equal(row!.profile_id, orgA.adminProfileId);
    }
  });

  test('identical bytes are stored once', async () => {
    const bytes = await noisePng(40, 40, 99);
    const first = await upload(orgA.admin, '/scenario/image_upload', { bytes, type: 'image/png' });
    const filesAfterFirst = mediaFiles(mediaRoot);
    const second = await upload(orgB.admin, '/scenario/image_upload', { bytes, type: 'image/png' });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.notEqual(first.body.upload_id, second.body.upload_id);
    assert.deepEqual(mediaFiles(mediaRoot), filesAfterFirst);
  });

  test('Range: exact first 64 KiB, suffix, open end, clamped end, 416 past the end, several ranges answer 200', async () => {
    const bytes = await noisePng(200, 200, 3);
    assert.ok(bytes.length > 100_000);
    const { body } = await upload(orgA.admin, '/scenario/image_upload', { bytes, type: 'image/png', filename: 'noise.png' });
    const get = (range: string) => fetchBinary(orgA.admin, '/scenario/image_download', { image_id: body.upload_id }, { range });
    const total = bytes.length;

    const first = await get('bytes=0-65535');
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), `bytes 0-65535/${total}`);
    assert.equal(first.headers.get('content-length'), '65536');
    assert.ok(first.bytes.equals(bytes.subarray(0, 65536)));

    const suffix = await get('bytes=-100');
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers.get('content-range'), `bytes ${total - 100}-${total - 1}/${total}`);
    assert.ok(suffix.bytes.equals(bytes.subarray(total - 100)));

    const openEnd = await get('bytes=100-');
    assert.equal(openEnd.status, 206);
    assert.equal(openEnd.headers.get('content-length'), String(total - 100));
    assert.ok(openEnd.bytes.equals(bytes.subarray(100)));

    const clamped = await get(`bytes=${total - 10}-${total + 5000}`);
    assert.equal(clamped.status, 206);
    assert.equal(clamped.headers.get('content-range'), `bytes ${total - 10}-${total - 1}/${total}`);
    assert.ok(clamped.bytes.equals(bytes.subarray(total - 10)));

    const pastEnd = await get(`bytes=${total}-`);
    assert.equal(pastEnd.status, 416);
    assert.equal(pastEnd.headers.get('content-range'), `bytes */${total}`);
    assert.equal(pastEnd.json.error.code, 'range_not_satisfiable');

    const several = await get('bytes=0-9,20-29');
    assert.equal(several.status, 200);
    assert.ok(several.bytes.equals(bytes));

    const malformed = await get('pages=1-2');
    assert.equal(malformed.status, 200);
    assert.ok(malformed.bytes.equals(bytes));
  });

  test('Range: a suffix longer than the file is the whole file (206), bytes=-0 is 416, the unit is case-insensitive', async () => {
    const bytes = await noisePng(60, 60, 5);
    const { body } = await upload(orgA.admin, '/scenario/image_upload', { bytes, type: 'image/png' });
    const get = (range: string) => fetchBinary(orgA.admin, '/system/image_download', { image_id: body.upload_id }, { range });
    const total = bytes.length;

    // RFC 9110 14.1.2: a representation shorter than the suffix-length is used whole.
    const longSuffix = await get('bytes=-99999999');
    assert.equal(longSuffix.status, 206);
    assert.equal(longSuffix.headers.get('content-range'), `bytes 0-${total - 1}/${total}`);
    assert.equal(longSuffix.headers.get('content-length'), String(total));
    assert.ok(longSuffix.bytes.equals(bytes));

    const zeroSuffix = await get('bytes=-0');
    assert.equal(zeroSuffix.status, 416);
    assert.equal(zeroSuffix.headers.get('content-range'), `bytes */${total}`);
    assert.equal(zeroSuffix.json.error.code, 'range_not_satisfiable');

    // RFC 9110 14.1: range units are case-insensitive.
    const upper = await get('BYTES=0-9');
    assert.equal(upper.status, 206);
    assert.equal(upper.headers.get('content-range'), `bytes 0-9/${total}`);
    assert.ok(upper.bytes.equals(bytes.subarray(0, 10)));
  });

  test('a request body shorter than its Content-Length (the client half-closes) answers 400 in the contract error shape', async () => {
    const url = new URL(harness.baseUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (received += chunk));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => {
        socket.destroy();
        reject(new Error(`no answer to a truncated body; received so far: ${received}`));
      });
      socket.write(
        `POST /system/image_download HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${orgA.admin.token}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"image_id":',
      );
      socket.end();
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
    const [statusLine, ...fieldLines] = head.split('\r\n');
    const fields = new Map(fieldLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    assert.match(statusLine ?? '', /^HTTP\/1\.1 400 /, raw);
    const parsed = JSON.parse(body);
    assert.deepEqual(Object.keys(parsed), ['error'], body);
    assert.equal(parsed.error.code, 'invalid_request');
    assert.equal(typeof parsed.error.message, 'string');
    assert.match(fields.get('content-type') ?? '', /^application\/json/);
    assert.equal(fields.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(fields.get('connection'), 'close');
  });

  test('ETag from the content hash: If-None-Match answers 304, If-Range honours only the current tag', async () => {
    const bytes = await noisePng(30, 30, 11);
    const { body } = await upload(orgA.admin, '/scenario/image_upload', { bytes, type: 'image/png' });
    const get = (headers: Record<string, string>) => fetchBinary(orgA.admin, '/system/image_download', { image_id: body.upload_id }, headers);
    const full = await get({});
    const etag = full.headers.get('etag')!;
    assert.match(etag, /^"[0-9a-f]{64}"$/);

    const notModified = await get({ 'if-none-match': etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.bytes.length, 0);
    assert.equal((await get({ 'if-none-match': '"something-else"' })).status, 200);

    const current = await get({ range: 'bytes=0-9', 'if-range': etag });
    assert.equal(current.status, 206);
    assert.ok(current.bytes.equals(bytes.subarray(0, 10)));
    const stale = await get({ range: 'bytes=0-9', 'if-range': '"stale"' });
    assert.equal(stale.status, 200);
    assert.ok(stale.bytes.equals(bytes));
  });

  test('an upload that loses the race to fill a reserved audio slot is 409 and leaves no temporary file', async () => {
    const slot = (await orgA.admin.post('/attempt/audio/new', {})).body.upload_id as string;
    const boundary = `----glow${randomUUID()}`;
    const audio = wav(200_000);
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const url = new URL(`${harness.baseUrl}/attempt/audio_upload?upload_id=${slot}`);
    const stagingDir = path.join(mediaRoot, 'staging');
    const staged = () => readdirSync(stagingDir).filter((name) => name.endsWith('.part'));
    const filesBefore = mediaFiles(mediaRoot);
    const late = http.request({
      host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: 'POST',
      headers: { authorization: `Bearer ${orgA.admin.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + audio.length + tail.length) },
    });
    const lateAnswer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      late.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
      });
      late.on('error', reject);
    });
    late.write(head);
    late.write(audio.subarray(0, 20_000));
    await until(() => staged().length > 0, 'the late upload to reach storage');
    const first = await upload(orgA.admin, `/attempt/audio_upload?upload_id=${slot}`, { bytes: wav(1000), type: 'audio/wav' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    late.end(Buffer.concat([audio.subarray(20_000), tail]));
    const answer = await lateAnswer;
    assert.equal(answer.status, 409, answer.text);
    await until(() => staged().length === 0, 'the losing upload\'s temporary file to be dropped', 2_000);
    const blobsAdded = mediaFiles(mediaRoot).filter((file) => !filesBefore.includes(file));
    assert.equal(blobsAdded.length, 1, `only the winner's bytes are kept: ${blobsAdded.join(', ')}`);
  });

  test('rejected uploads (415 off-list, 422 wrong signature) leave no row and no file', async () => {
    const text = Buffer.from('just some text, not an image at all '.repeat(200));
    await leavesNothing(orgA, async () => {
      const lying = await upload(orgA.admin, '/scenario/image_upload', { bytes: text, type: 'image/png', filename: 'x.png' });
      assert.equal(lying.status, 422);
      assert.equal(lying.body.error.code, 'unprocessable_content');
    });
    await leavesNothing(orgA, async () => {
      const offList = await upload(orgA.admin, '/scenario/image_upload', { bytes: text, type: 'text/plain' });
      assert.equal(offList.status, 415);
      assert.equal(offList.body.error.code, 'unsupported_media_type');
    });
    await leavesNothing(orgA, async () => {
      const executable = await upload(orgA.admin, '/scenario/image_upload', { bytes: executableLike(), type: 'image/png' });
      assert.equal(executable.status, 422);
    });
    await leavesNothing(orgA, async () => {
      const pngAsAudio = await upload(orgA.admin, '/attempt/audio_upload', { bytes: await noisePng(20, 20), type: 'audio/mpeg' });
      assert.equal(pngAsAudio.status, 422);
      assert.match(pngAsAudio.body.error.message, /image\/png/);
    });
    await leavesNothing(orgA, async () => {
      const pdfAsText = await upload(orgA.admin, '/document/text_upload', { bytes: tinyPdf(), type: 'text/plain' });
      assert.equal(pdfAsText.status, 422);
    });
    await leavesNothing(orgA, async () => {
      const noFile = await upload(orgA.admin, '/document/file_upload', undefined, { name: 'nothing' });
      assert.equal(noFile.status, 400);
    });
    await leavesNothing(orgA, async () => {
      // What `curl -d 'file=...'` sends: the wrong media type for an upload, not broken JSON.
      const formEncoded = await orgA.admin.request('POST', '/document/file_upload', { rawBody: 'file=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(formEncoded.status, 415, formEncoded.text);
      assert.equal(formEncoded.body.error.code, 'unsupported_media_type');
      assert.match(formEncoded.body.error.message, /multipart\/form-data/);
    });
    await leavesNothing(orgA, async () => {
      // Stored as sent, a compressed form would keep compressed bytes under the declared type.
      const boundary = `----glow${randomUUID()}`;
      const form = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nsome notes\r\n--${boundary}--\r\n`);
      const compressed = await orgA.admin.request('POST', '/document/text_upload', { rawBody: gzipSync(form), headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-encoding': 'gzip' } });
      assert.equal(compressed.status, 415, compressed.text);
      assert.match(compressed.body.error.message, /without Content-Encoding \(gzip\)/);
    });
    await leavesNothing(orgA, async () => {
      const unknownField = await upload(orgA.admin, '/document/file_upload', { bytes: tinyPdf(), type: 'application/pdf' }, { colour: 'blue' });
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.body.error.message, /colour/);
    });
  });

  test('file_upload: a part with no Content-Type is stored as what its bytes are; a declared archive must be one; UTF-16 text with its byte order mark is text', async () => {
    const send = async (route: string, partHeaders: string, bytes: Buffer) => {
      const boundary = `----glow${randomUUID()}`;
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="sent.bin"\r\n${partHeaders}\r\n`),
        bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const response = await orgA.admin.request('POST', route, { rawBody: body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      return { status: response.status, body: response.body };
    };
    const storedType = async (uploadId: string) =>
      (await harness.database.db.selectFrom('uploads').select('mime_type').where('id', '=', uploadId).executeTakeFirstOrThrow()).mime_type;

    const untypedPdf = await send('/document/file_upload', '', tinyPdf('no part type'));
    assert.equal(untypedPdf.status, 200, JSON.stringify(untypedPdf.body));
    assert.equal(await storedType(untypedPdf.body.upload_id), 'application/pdf');
    assert.equal((await fetchBinary(orgA.admin, '/system/file_preview', { file_id: untypedPdf.body.upload_id })).status, 200);
    const untypedText = await send('/document/file_upload', '', Buffer.from('plain notes\n'));
    assert.equal(await storedType(untypedText.body.upload_id), 'text/plain');

    await leavesNothing(orgA, async () => {
      const executableAsZip = await send('/document/file_upload', 'Content-Type: application/zip\r\n', executableLike());
      assert.equal(executableAsZip.status, 422, JSON.stringify(executableAsZip.body));
      const pngAsGzip = await send('/document/file_upload', 'Content-Type: application/gzip\r\n', await noisePng(8, 8));
      assert.equal(pngAsGzip.status, 422);
      assert.match(pngAsGzip.body.error.message, /image\/png, not application\/gzip/);
    });

    // Text whose first bytes happen to be a weak signature stays text, sent untyped or as text.
    for (const text of ['BM,score\nAna,5\n', 'ID3 tags are what I study\n', 'MZ is a prefix\n']) {
      const untypedCsv = await send('/document/file_upload', '', Buffer.from(text));
      assert.equal(untypedCsv.status, 200, JSON.stringify(untypedCsv.body));
      assert.equal(await storedType(untypedCsv.body.upload_id), 'text/plain', text);
      assert.equal((await send('/document/text_upload', 'Content-Type: text/csv\r\n', Buffer.from(text))).status, 200, text);
    }
    // file-type names Ogg Opus `audio/ogg; codecs=opus`: compared bare, it is the audio/ogg it was declared.
    const opus = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(24), Buffer.from('OpusHead'), Buffer.alloc(400)]);
    const ogg = await send('/attempt/audio_upload', 'Content-Type: audio/ogg;codecs=opus\r\n', opus);
    assert.equal(ogg.status, 200, JSON.stringify(ogg.body));

    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,score\nAna,5\n', 'utf16le')]);
    const untypedUtf16 = await send('/document/file_upload', '', utf16);
    assert.equal(await storedType(untypedUtf16.body.upload_id), 'text/plain', 'UTF-16 text sent untyped is text, not MP3');
    const csv = await send('/document/text_upload', 'Content-Type: text/csv\r\n', utf16);
    assert.equal(csv.status, 200, JSON.stringify(csv.body));
    assert.equal(await storedType(csv.body.upload_id), 'text/csv');
    const download = await fetchBinary(orgA.admin, '/system/text_download', { text_id: csv.body.upload_id });
    assert.ok(download.bytes.equals(utf16));
  });

  test('a file whose bytes are missing from the media store (servers sharing a database, each with its own folder) is a 500 that says so', async () => {
    const bytes = Buffer.from(`name,score\nmissing-${randomUUID()},5\n`);
    const { body } = await upload(orgA.admin, '/document/text_upload', { bytes, type: 'text/csv', filename: 'elsewhere.csv' });
    const [row] = await harness.database.db.selectFrom('uploads').select('sha256').where('id', '=', body.upload_id).execute();
    rmSync(path.join(mediaRoot, 'blobs', row!.sha256!.slice(0, 2), row!.sha256!));
    const download = await fetchBinary(orgA.admin, '/system/text_download', { text_id: body.upload_id });
    assert.equal(download.status, 500);
    assert.equal(download.json?.error.code, 'blob_missing');
    assert.match(download.json?.error.message, /not in this server's media store.*same GLOW_DATA_DIR on a shared filesystem, or S3/);
  });

  test('audio/webm;codecs=opus is accepted and stored as audio/webm; labels may come after the file', async () => {
    const bytes = webmLike();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'audio/webm;codecs=opus' }), 'reply.webm');
    form.append('name', 'Reply');
    form.append('description', 'Recorded in the browser');
    const response = await orgA.admin.request('POST', '/attempt/audio_upload', { rawBody: form });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(Object.keys(response.body).sort(), ['audio_id', 'audios_id', 'upload_id']);
    const [row] = await harness.database.db.selectFrom('uploads').selectAll().where('id', '=', response.body.upload_id).execute();
    assert.equal(row!.mime_type, 'audio/webm');
    const [wrapper] = await harness.database.db.selectFrom('upload_wrappers').selectAll().where('id', '=', response.body.audios_id).execute();
    assert.equal(wrapper!.name, 'Reply');
    assert.equal(wrapper!.description, 'Recorded in the browser');
    const download = await fetchBinary(orgA.admin, '/attempt/audio_download', { audio_id: response.body.audio_id });
    assert.equal(download.headers.get('content-type'), 'audio/webm');
    assert.ok(download.bytes.equals(bytes));
  });

  test('an upload over GLOW_MAX_UPLOAD_BYTES is 413 and leaves no row and no file', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-media-limit-'));
    // On PostgreSQL the second server shares the database (so orgA's token works); on PGlite it has its own.
    const shared = harness.backend === 'postgres';
    const adminToken = `limit-admin-${randomUUID()}`;
    const server = await startServer({
      GLOW_DATA_DIR: dataDir,
      GLOW_MAX_UPLOAD_BYTES: 64 * 1024,
      ...(shared ? { DATABASE_URL: harness.config.DATABASE_URL } : { GLOW_ADMIN_TOKEN: adminToken }),
    });
    try {
      let client = new ApiClient(server.baseUrl, orgA.admin.token);
      let orgId = orgA.orgId;
      if (!shared) {
        const created = await new ApiClient(server.baseUrl, adminToken).post('/system/org_create', { name: `limit-${randomUUID()}`, admin_name: 'Limit admin', admin_email: `limit-${randomUUID()}@example.edu` });
        client = new ApiClient(server.baseUrl, created.body.token);
        orgId = created.body.org_id;
      }
      const count = async () =>
        Number((await server.database.db.selectFrom('uploads').select((eb) => eb.fn.countAll().as('count')).where('org_id', '=', orgId).executeTakeFirstOrThrow()).count);
      const limitMedia = path.join(dataDir, 'media');
      const rowsBefore = await count();
      const filesBefore = mediaFiles(limitMedia);
      const tooLarge = await upload(client, '/document/file_upload', { bytes: Buffer.alloc(300 * 1024, 7), type: 'application/octet-stream' });
      assert.equal(tooLarge.status, 413);
      assert.equal(tooLarge.body.error.code, 'payload_too_large');
      assert.equal(await count(), rowsBefore);
      assert.deepEqual(mediaFiles(limitMedia), filesBefore);
      const fits = await upload(client, '/document/file_upload', { bytes: Buffer.alloc(64 * 1024, 7), type: 'application/octet-stream' });
      assert.equal(fits.status, 200, 'exactly the limit is accepted');
      // The limit is on what clients send: speech the server makes (offline WAV, ~48 KB a second) is kept whatever its size.
      const spoken = await client.post('/persona/generate', {
        instructions: ['A talkative student who explains at length why the essay is late, and what they plan to do about it this week'],
        modality: 'audio',
        wait_for_complete: true,
      });
      assert.equal(spoken.status, 200, spoken.text);
      assert.equal(spoken.body.status, 'completed', spoken.text);
      const speech = await server.database.db.selectFrom('uploads').select('size').where('id', '=', spoken.body.produced_media[0].upload_id).executeTakeFirstOrThrow();
      assert.ok(Number(speech.size) > 64 * 1024, `the speech is over the upload limit (${speech.size} bytes)`);
    } finally {
      await server.app.close();
      await server.database.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('Expect: 100-continue: a refused token is answered before the body is sent; an accepted one is told to go on', async () => {
    const url = new URL(`${harness.baseUrl}/document/file_upload`);
    const boundary = `----glow${randomUUID()}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="waited.txt"\r\nContent-Type: text/plain\r\n\r\n`),
      Buffer.alloc(2 * 1024 * 1024, 98),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    // Every socket is closed at the end, pass or fail: a request left waiting for its body would hold up the server's shutdown.
    const sockets: net.Socket[] = [];
    const open = () => {
      const socket = net.connect(Number(url.port), url.hostname);
      sockets.push(socket);
      return socket;
    };
    /** Sends the head alone and resolves with what the server says before any body byte. */
    const headOnly = (token: string) => {
      const socket = open();
      socket.write(
        `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\nExpect: 100-continue\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      let received = '';
      const first = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer before the body: ${received}`)), 5_000);
        socket.on('data', (chunk) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n\r\n')) {
            clearTimeout(timer);
            resolve(received);
          }
        });
      });
      return { socket, first, all: () => received };
    };

    try {
      // A JSON body on an upload route (promoting an audio upload) is parsed before the handler: told to come at once.
      const slot = (await orgA.admin.post('/attempt/audio/new', {})).body.upload_id as string;
      const promotion = open();
      promotion.write(`POST /attempt/audio_upload?upload_id=${slot} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${orgA.admin.token}\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n`);
      const promotionFirst = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no 100 Continue for a JSON body')), 5_000);
        promotion.once('data', (chunk) => {
          clearTimeout(timer);
          resolve(chunk.toString('latin1'));
        });
      });
      assert.match(promotionFirst, /^HTTP\/1\.1 100 Continue/);
      promotion.destroy();

      const refused = headOnly('not-a-token');
      assert.match(await refused.first, /^HTTP\/1\.1 401 /, 'answered without asking for the body');
      assert.match(refused.all(), /\r\nconnection: close\r\n/i);
      refused.socket.destroy();

      const accepted = headOnly(orgA.admin.token!);
      assert.match(await accepted.first, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
      accepted.socket.write(body);
      await until(() => /HTTP\/1\.1 200 /.test(accepted.all()) && accepted.all().includes('"upload_id"'), 'the upload to be stored');
      accepted.socket.destroy();
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  test('an upload refused before its body is read (bad token, wrong query, no such route) does not read on: the answer comes and the connection closes', async () => {
    const url = new URL(harness.baseUrl);
    const boundary = `----glow${randomUUID()}`;
    const declared = 512 * 1024 * 1024;
    /** Declares a large form, sends its first 9 MiB and then nothing: a server reading on would wait for the rest. */
    const refusedThenClosed = (path: string, token: string) =>
      new Promise<{ answer: string; closedByServer: boolean }>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname);
        let received = '';
        const timer = setTimeout(() => {
          socket.destroy();
          resolve({ answer: received, closedByServer: false });
        }, 15_000);
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        // The server ends the connection while this client still has more to send: a reset is the server closing too.
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ answer: received, closedByServer: true });
        });
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${declared}\r\n\r\n` +
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`,
        );
        socket.write(Buffer.alloc(9 * 1024 * 1024, 97), (error) => (error ? reject(error) : undefined));
      });

    for (const [path, token, status] of [
      ['/document/file_upload', 'not-a-token', 401],
      ['/document/file_upload?upload_id=x', orgA.admin.token!, 400],
      ['/document/no_such_upload', orgA.admin.token!, 404],
    ] as const) {
      const { answer, closedByServer } = await refusedThenClosed(path, token);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `${path}: ${answer.slice(0, 200)}`);
      assert.match(answer, /\r\nconnection: close\r\n/i, path);
      assert.ok(closedByServer, `${path}: the server kept reading a body it had refused`);
    }

    // Told before the body is asked for: a query the route does not take, a compressed form.
    for (const [path, extra] of [['/document/file_upload?upload_id=x', ''], ['/document/file_upload', 'Content-Encoding: gzip\r\n']] as const) {
      const socket = net.connect(Number(url.port), url.hostname);
      try {
        const first = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${path}: no answer before the body`)), 5_000);
          socket.once('data', (chunk) => {
            clearTimeout(timer);
            resolve(chunk.toString('latin1'));
          });
          socket.on('error', reject);
          socket.write(
            `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${orgA.admin.token}\r\nExpect: 100-continue\r\n${extra}` +
              `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${declared}\r\n\r\n`,
          );
        });
        assert.match(first, /^HTTP\/1\.1 (400|415) /, `${path} ${extra}: ${first.slice(0, 80)}`);
        assert.match(first, /\r\nconnection: close\r\n/i);
      } finally {
        socket.destroy();
      }
    }
  });

  test('a client that disconnects halfway through an upload leaves no row and no file', async () => {
    const boundary = `----glow${randomUUID()}`;
    const content = Buffer.alloc(4 * 1024 * 1024, 5);
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const url = new URL(`${harness.baseUrl}/document/file_upload`);
    const stagingDir = path.join(mediaRoot, 'staging');
    const staged = () => readdirSync(stagingDir).filter((name) => name.endsWith('.part'));

    await leavesNothing(orgA, async () => {
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${orgA.admin.token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + content.length + tail.length),
        },
      });
      request.on('error', () => {});
      request.write(head);
      request.write(content.subarray(0, content.length / 2));
      await until(() => staged().length > 0, 'the upload to reach storage');
      request.destroy();
      await until(() => staged().length === 0, 'the interrupted upload to be dropped');
    });
  });

  test('a form that ends before its closing boundary, inside the file part or in a part after it, is a 400 at once, small or large, and leaves no row and no file', async () => {
    const url = new URL(`${harness.baseUrl}/document/text_upload`);
    // The parser takes a form cut after a whole file part as complete (dropping the part it cut),
    // and a large one left the request waiting forever.
    const cuts = {
      'inside the file part': () => '',
      'inside a field after the file': (boundary: string) => `\r\n--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nabc`,
    };
    for (const [where, after] of Object.entries(cuts)) for (const size of [3, 10_000, 3 * 1024 * 1024]) {
      await leavesNothing(orgA, async () => {
        const boundary = `----glow${randomUUID()}`;
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.txt"\r\nContent-Type: text/plain\r\n\r\n`),
          Buffer.alloc(size, 97),
          Buffer.from(after(boundary)),
        ]);
        // The whole body is sent (its Content-Length is honest) and the connection stays open: only the form is cut.
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const request = http.request({
            host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
            headers: { authorization: `Bearer ${orgA.admin.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) },
          }, (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk) => (text += chunk));
            response.on('end', () => resolve({ status: response.statusCode!, text }));
          });
          request.on('error', reject);
          request.setTimeout(15_000, () => {
            request.destroy();
            reject(new Error(`no answer to a form cut ${where}, after ${size} bytes`));
          });
          request.end(body);
        });
        assert.equal(answer.status, 400, `cut ${where}, ${size} bytes: ${answer.text}`);
        assert.match(JSON.parse(answer.text).error.message, /multipart body is malformed/);
      });
    }
  });

  test('PDF preview: a PNG of the first page with the cache header, rendered once and then served from the cache', async () => {
    const pdf = tinyPdf('Preview me');
    const { body } = await upload(orgA.admin, '/document/file_upload', { bytes: pdf, type: 'application/pdf', filename: 'preview.pdf' });
    const first = await fetchBinary(orgA.admin, '/document/file_preview', { file_id: body.upload_id });
    assert.equal(first.status, 200, first.json ? JSON.stringify(first.json) : '');
    assert.equal(first.headers.get('content-type'), 'image/png');
    assert.equal(first.headers.get('cache-control'), 'private, max-age=3600, must-revalidate');
    const metadata = await sharp(first.bytes).metadata();
    assert.equal(metadata.format, 'png');
    assert.ok(metadata.width! > 100 && metadata.height! > metadata.width!, 'a portrait page');

    const [upload_] = await harness.database.db.selectFrom('uploads').select('sha256').where('id', '=', body.upload_id).execute();
    const cacheRows = await harness.database.db.selectFrom('upload_previews').selectAll().where('source_sha256', '=', upload_!.sha256!).execute();
    assert.equal(cacheRows.length, 1);
    assert.equal(cacheRows[0]!.width, metadata.width);

    // Replace the cached PNG's bytes: a second preview that returns them cannot have rendered again.
    const marker = await sharp({ create: { width: 3, height: 5, channels: 3, background: '#00ff00' } }).png().toBuffer();
    writeFileSync(path.join(mediaRoot, 'blobs', cacheRows[0]!.png_sha256.slice(0, 2), cacheRows[0]!.png_sha256), marker);
    const second = await fetchBinary(orgA.admin, '/system/file_preview', { file_id: body.files_id });
    assert.equal(second.status, 200);
    assert.equal((await sharp(second.bytes).metadata()).width, 3);
    assert.equal(second.headers.get('cache-control'), 'private, max-age=3600, must-revalidate');
    // A PDF sent as application/octet-stream (a client that did not know) is kept as the PDF its bytes are.
    const unlabelled = await upload(orgA.admin, '/document/file_upload', { bytes: tinyPdf('Sent as bytes'), type: 'application/octet-stream', filename: 'unlabelled' });
    assert.equal(unlabelled.status, 200);
    assert.equal((await fetchBinary(orgA.admin, '/system/file_download', { file_id: unlabelled.body.upload_id })).headers.get('content-type'), 'application/pdf');
    assert.equal((await fetchBinary(orgA.admin, '/system/file_preview', { file_id: unlabelled.body.upload_id })).status, 200);
    // A client holding the preview's tag gets 304, not the PNG again.
    const revalidated = await fetchBinary(orgA.admin, '/system/file_preview', { file_id: body.files_id }, { 'if-none-match': second.headers.get('etag')! });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.bytes.length, 0);
  });

  test('preview of a PNG (a file or an image upload) is 415; a PDF that cannot be rendered is 422 and the server stays up', async () => {
    const png = await upload(orgA.admin, '/document/file_upload', { bytes: await noisePng(20, 20), type: 'image/png' });
    const pngPreview = await fetchBinary(orgA.admin, '/document/file_preview', { file_id: png.body.upload_id });
    assert.equal(pngPreview.status, 415);
    // Not a file upload but one the caller sees: a non-PDF (415), not an unknown id (404).
    const image = await upload(orgA.admin, '/scenario/image_upload', { bytes: await noisePng(20, 20), type: 'image/png' });
    for (const id of [image.body.upload_id, image.body.images_id]) {
      const imagePreview = await fetchBinary(orgA.admin, '/system/file_preview', { file_id: id });
      assert.equal(imagePreview.status, 415, JSON.stringify(imagePreview.json));
      assert.match(imagePreview.json.error.message, /image\/png/);
    }
    assert.equal((await fetchBinary(orgB.admin, '/system/file_preview', { file_id: image.body.upload_id })).status, 404, 'another org\'s image is unknown');
    const refusedReads = await harness.database.db.selectFrom('audit_log').select('id').where('org_id', '=', orgA.orgId).where('action', '=', 'system.file_preview')
      .where(sql<boolean>`details->>'upload_id' = ${image.body.upload_id}`).execute();
    assert.equal(refusedReads.length, 0, 'a refused preview read nothing, so it is not in the audit log');

    const broken = await upload(orgA.admin, '/document/file_upload', { bytes: Buffer.from('%PDF-1.7\nthis is not a real PDF body\n%%EOF\n'), type: 'application/pdf' });
    assert.equal(broken.status, 200);
    const brokenPreview = await fetchBinary(orgA.admin, '/system/file_preview', { file_id: broken.body.upload_id });
    assert.equal(brokenPreview.status, 422);
    assert.equal(brokenPreview.json.error.code, 'unprocessable_content');
    assert.equal((await harness.anonymous.get('/health')).status, 200);
  });

  test("another org's upload id is 404 on every download and preview route that hosts its kind", async () => {
    const ids: Record<string, string> = {};
    for (const route of UPLOAD_ROUTES) {
      const uploaded = await upload(orgA.admin, `/${route.artifact}/${route.kind}_upload`, { bytes: await route.make(), type: route.type });
      assert.equal(uploaded.status, 200);
      ids[route.kind] = uploaded.body.upload_id;
      ids[`${route.kind}s`] = uploaded.body[`${route.kind}s_id`];
    }
    let checked = 0;
    for (const artifact of ARTIFACT_TYPES) {
      for (const kind of ['audio', 'image', 'video', 'file', 'text']) {
        for (const id of [ids[kind], ids[`${kind}s`]]) {
          const own = await fetchBinary(orgA.admin, `/${artifact}/${kind}_download`, { [`${kind}_id`]: id }, { range: 'bytes=0-0' });
          if (own.status === 404) continue; // not hosted on this artifact: the route does not exist
          assert.equal(own.status, 206);
          const foreign = await fetchBinary(orgB.admin, `/${artifact}/${kind}_download`, { [`${kind}_id`]: id });
          assert.equal(foreign.status, 404, `/${artifact}/${kind}_download from another org`);
          assert.equal(foreign.json.error.code, 'not_found');
          checked += 1;
        }
      }
      const preview = await fetchBinary(orgB.admin, `/${artifact}/file_preview`, { file_id: ids.file });
      assert.equal(preview.status, 404);
    }
    // system, attempt: 5 kinds; scenario: image, video, file, text; document: file, text; 16 others: file, text. Two ids each.
    assert.equal(checked, 2 * (5 + 5 + 4 + 2 + 16 * 2));
  });

  test('the per-artifact matrix: hosted routes exist, every other combination is 404', async () => {
    const file = await upload(orgA.admin, '/document/file_upload', { bytes: Buffer.from('plain bytes'), type: 'application/octet-stream', filename: 'notes.bin' });
    const image = await upload(orgA.admin, '/scenario/image_upload', { bytes: await smallJpeg(), type: 'image/jpeg' });
    const personaFile = await fetchBinary(orgA.admin, '/persona/file_download', { file_id: file.body.upload_id });
    assert.equal(personaFile.status, 200);
    assert.equal(personaFile.bytes.toString(), 'plain bytes');
    const personaImage = await fetchBinary(orgA.admin, '/persona/image_download', { image_id: image.body.upload_id });
    assert.equal(personaImage.status, 404);
    assert.match(personaImage.json.error.message, /No route/);
    for (const missing of ['/scenario/audio_download', '/document/image_download', '/persona/file_preview', '/rubric/audio_download']) {
      assert.equal((await fetchBinary(orgA.admin, missing, {})).status, 404, missing);
    }
    for (const missing of ['/persona/image_upload', '/document/image_upload', '/scenario/file_upload', '/system/file_upload', '/attempt/image_upload']) {
      assert.equal((await upload(orgA.admin, missing, { bytes: await smallJpeg(), type: 'image/jpeg' })).status, 404, missing);
    }
    // The id's kind must match the route's kind.
    assert.equal((await fetchBinary(orgA.admin, '/system/audio_download', { audio_id: image.body.upload_id })).status, 404);
    assert.equal((await fetchBinary(orgA.admin, '/system/image_download', { image_id: image.body.upload_id })).status, 200);
    // A label or file name the database cannot hold is the caller's 400, and leaves no row.
    const uploadsBefore = await harness.database.db.selectFrom('uploads').select('id').where('org_id', '=', orgA.orgId).execute();
    const nulLabel = await upload(orgA.admin, '/scenario/image_upload', { bytes: await smallJpeg(), type: 'image/jpeg' }, { name: 'a\u0000b' });
    assert.equal(nulLabel.status, 400, JSON.stringify(nulLabel.body));
    assert.match(nulLabel.body.error.message, /^name: .*NUL character/);
    const nulName = await upload(orgA.admin, '/scenario/image_upload', { bytes: await smallJpeg(), type: 'image/jpeg', filename: 'a\u0000.jpg' });
    assert.equal(nulName.status, 400, JSON.stringify(nulName.body));
    assert.equal((await harness.database.db.selectFrom('uploads').select('id').where('org_id', '=', orgA.orgId).execute()).length, uploadsBefore.length);
    // A JSON route still refuses a form body.
    const form = new FormData();
    form.append('name', 'x');
    assert.equal((await orgA.admin.request('POST', '/persona/search', { rawBody: form })).status, 415);
  });

  test('attempt audio: reserve, fill, refill is 409, promote an existing upload; other orgs get 404', async () => {
    const reserved = await orgA.admin.post('/attempt/audio/new', {});
    assert.equal(reserved.status, 200);
    assert.deepEqual(Object.keys(reserved.body).sort(), ['audio_id', 'audios_id', 'upload_id']);
    const slot = reserved.body.upload_id;
    assert.equal((await fetchBinary(orgA.admin, '/system/audio_download', { audio_id: slot })).status, 404, 'a reserved slot has no bytes yet');

    const foreign = await upload(orgB.admin, `/attempt/audio_upload?upload_id=${slot}`, { bytes: wav(100), type: 'audio/wav' });
    assert.equal(foreign.status, 404);
    const unknown = await upload(orgA.admin, `/attempt/audio_upload?upload_id=${randomUUID()}`, { bytes: wav(100), type: 'audio/wav' });
    assert.equal(unknown.status, 404);

    const bytes = wav(4000);
    const filled = await upload(orgA.admin, `/attempt/audio_upload?upload_id=${slot}`, { bytes, type: 'audio/x-wav' });
    assert.equal(filled.status, 200, JSON.stringify(filled.body));
    assert.deepEqual(filled.body, { audio_id: slot, audios_id: reserved.body.audios_id, upload_id: slot });
    const download = await fetchBinary(orgA.admin, '/attempt/audio_download', { audio_id: reserved.body.audios_id });
    assert.ok(download.bytes.equals(bytes));

    await leavesNothing(orgA, async () => {
      const again = await upload(orgA.admin, `/attempt/audio_upload?upload_id=${slot}`, { bytes: wav(50), type: 'audio/wav' });
      assert.equal(again.status, 409);
    });

    const promotedEmpty = await orgA.admin.request('POST', `/attempt/audio_upload?upload_id=${slot}`);
    assert.equal(promotedEmpty.status, 200, promotedEmpty.text);
    assert.equal(promotedEmpty.body.upload_id, slot);
    assert.notEqual(promotedEmpty.body.audios_id, reserved.body.audios_id);
    // A retried promotion is the same asset; other labels make another named asset of the same bytes.
    const promotedAgain = await orgA.admin.request('POST', `/attempt/audio_upload?upload_id=${slot}`);
    assert.deepEqual(promotedAgain.body, promotedEmpty.body);
    // A promotion is never the upload's own first asset, even with the same labels.
    const direct = await upload(orgA.admin, '/attempt/audio_upload', { bytes: wav(100), type: 'audio/wav', filename: 'direct.wav' });
    const promotedDirect = await orgA.admin.request('POST', `/attempt/audio_upload?upload_id=${direct.body.upload_id}`);
    assert.equal(promotedDirect.status, 200, promotedDirect.text);
    assert.notEqual(promotedDirect.body.audios_id, direct.body.audios_id);
    // JSON sent as curl -d sends it (form-encoded) still promotes.
    const promotedCurl = await orgA.admin.request('POST', `/attempt/audio_upload?upload_id=${slot}`, { rawBody: '{"name":"Curl"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(promotedCurl.status, 200, promotedCurl.text);
    const promotedJson = await orgA.admin.post(`/attempt/audio_upload?upload_id=${reserved.body.audios_id}`, { name: 'Promoted' });
    assert.equal(promotedJson.body?.upload_id, slot, 'the audios_id names the same upload');
    assert.equal(promotedJson.status, 200);
    const wrapper = await harness.database.db.selectFrom('upload_wrappers').selectAll().where('id', '=', promotedJson.body.audios_id).executeTakeFirstOrThrow();
    assert.equal(wrapper.name, 'Promoted');
    assert.notEqual(promotedJson.body.audios_id, promotedEmpty.body.audios_id);
    const retried = await Promise.all([1, 2, 3].map(() => orgA.admin.post(`/attempt/audio_upload?upload_id=${slot}`, { name: 'Promoted' })));
    assert.deepEqual(new Set(retried.map((response) => response.body.audios_id)), new Set([promotedJson.body.audios_id]), 'concurrent retries make no second asset');
    assert.equal((await fetchBinary(orgA.admin, '/system/audio_download', { audio_id: promotedJson.body.audios_id })).bytes.length, bytes.length);

    assert.equal((await orgB.admin.post(`/attempt/audio_upload?upload_id=${slot}`, {})).status, 404);
    const image = await upload(orgA.admin, '/scenario/image_upload', { bytes: await smallJpeg(), type: 'image/jpeg' });
    assert.equal((await orgA.admin.post(`/attempt/audio_upload?upload_id=${image.body.upload_id}`, {})).status, 404, 'an image cannot be promoted to audio');
    const reservedOnly = await orgA.admin.post('/attempt/audio/new', {});
    const filledByWrapper = await upload(orgA.admin, `/attempt/audio_upload?upload_id=${reservedOnly.body.audios_id}`, { bytes: wav(10), type: 'audio/wav' });
    assert.deepEqual(filledByWrapper.body, { audio_id: reservedOnly.body.upload_id, audios_id: reservedOnly.body.audios_id, upload_id: reservedOnly.body.upload_id });
    const emptySlot = await orgA.admin.post('/attempt/audio/new', {});
    assert.equal((await orgA.admin.post(`/attempt/audio_upload?upload_id=${emptySlot.body.upload_id}`, {})).status, 409, 'nothing to promote in an empty slot');
  });

  test('scenario image references: checked against org, kind and visibility; readers of the scenario may download the image', async () => {
    const scenarioData = {
      setting: 'Office hours',
      learner_role: 'instructor',
      learner_goal: 'Agree a plan',
      difficulty: 'introductory',
      context: 'The student missed two labs.',
      success_criteria: ['Asks an open question'],
    };
    const author = await orgA.addProfile('member');
    const reader = await orgA.addProfile('member');
    const image = await upload(author.client, '/scenario/image_upload', { bytes: await noisePng(16, 16, 5), type: 'image/png' });
    const video = await upload(author.client, '/scenario/video_upload', { bytes: webmLike(), type: 'video/webm' });
    const foreignImage = await upload(orgB.admin, '/scenario/image_upload', { bytes: await noisePng(16, 16, 6), type: 'image/png' });

    const foreign = await author.client.post('/scenario/create', { name: 'S', data: { ...scenarioData, image_upload_ids: [foreignImage.body.upload_id] } });
    assert.equal(foreign.status, 404);
    assert.match(foreign.body.error.message, /data\.image_upload_ids/);
    const wrongKind = await author.client.post('/scenario/create', { name: 'S', data: { ...scenarioData, image_upload_ids: [video.body.upload_id] } });
    assert.equal(wrongKind.status, 400);
    assert.match(wrongKind.body.error.message, /data\.image_upload_ids/);
    const notVisible = await reader.client.post('/scenario/create', { name: 'S', data: { ...scenarioData, image_upload_ids: [image.body.upload_id] } });
    assert.equal(notVisible.status, 404, "another member's unattached upload is not theirs to reference");

    assert.equal((await fetchBinary(reader.client, '/scenario/image_download', { image_id: image.body.upload_id })).status, 404, 'not visible before it is attached');
    const created = await author.client.post('/scenario/create', { name: 'With image', data: { ...scenarioData, image_upload_ids: [image.body.upload_id] } });
    assert.equal(created.status, 200, created.text);
    const readable = await fetchBinary(reader.client, '/scenario/image_download', { image_id: image.body.upload_id });
    assert.equal(readable.status, 200);
    assert.equal((await fetchBinary(orgB.admin, '/scenario/image_download', { image_id: image.body.upload_id })).status, 404);

    const updated = await author.client.post('/scenario/update', { id: created.body.id, data: { ...scenarioData, image_upload_ids: [] } });
    assert.equal(updated.status, 200);
    assert.equal((await fetchBinary(reader.client, '/scenario/image_download', { image_id: image.body.upload_id })).status, 404, 'detached again');

    // The wrapper (images_id) is what records point at, as well as the upload id: kept as written, it makes the upload readable.
    const byWrapper = await author.client.post('/scenario/update', { id: created.body.id, data: { ...scenarioData, image_upload_ids: [image.body.images_id] } });
    assert.equal(byWrapper.status, 200, byWrapper.text);
    assert.deepEqual(byWrapper.body.data.image_upload_ids, [image.body.images_id]);
    assert.equal((await fetchBinary(reader.client, '/scenario/image_download', { image_id: image.body.upload_id })).status, 200);
    assert.equal((await fetchBinary(reader.client, '/scenario/image_download', { image_id: image.body.images_id })).status, 200);
    const foreignWrapper = await author.client.post('/scenario/update', { id: created.body.id, data: { ...scenarioData, image_upload_ids: [foreignImage.body.images_id] } });
    assert.equal(foreignWrapper.status, 404);
  });

  test('SVG (and every download) is served with a CSP that stops scripts', async () => {
    const svg = await upload(orgA.admin, '/scenario/image_upload', { bytes: SVG_WITH_SCRIPT, type: 'image/svg+xml', filename: 'logo.svg' });
    assert.equal(svg.status, 200);
    const download = await fetchBinary(orgA.admin, '/system/image_download', { image_id: svg.body.upload_id });
    assert.equal(download.headers.get('content-type'), 'image/svg+xml');
    assert.equal(download.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    assert.ok(download.bytes.equals(SVG_WITH_SCRIPT));
  });

  test('members see their own uploads and admins see the org; a per-artifact read is in the audit log under that artifact', async () => {
    const owner = await orgA.addProfile('member');
    const other = await orgA.addProfile('member');
    const text = await upload(owner.client, '/document/text_upload', { bytes: Buffer.from('{"a":1}'), type: 'application/json', filename: 'ä.json' });
    assert.equal(text.status, 200);
    assert.equal((await fetchBinary(other.client, '/system/text_download', { text_id: text.body.upload_id })).status, 404);
    assert.equal((await fetchBinary(orgA.admin, '/system/text_download', { text_id: text.body.upload_id })).status, 200);
    const read = await fetchBinary(owner.client, '/attempt/text_download', { text_id: text.body.texts_id });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('content-disposition'), `inline; filename="a.json"; filename*=UTF-8''%C3%A4.json`);
    const audit = await harness.database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('org_id', '=', orgA.orgId)
      .where('profile_id', '=', owner.profileId)
      .where('action', '=', 'attempt.text_download')
      .execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.artifact_type, 'attempt');
    assert.equal(audit[0]!.details.upload_id, text.body.upload_id);
    const systemReads = await harness.database.db.selectFrom('audit_log').select('artifact_type').where('org_id', '=', orgA.orgId).where('action', '=', 'system.text_download').execute();
    assert.ok(systemReads.length >= 1 && systemReads.every((row) => row.artifact_type === 'system'));
  });

  test('storeUpload keeps server-produced media; the start-up sweep removes temporary bytes and unreferenced blobs only', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'glow-media-sweep-'));
    const store = new LocalBlobStore(folder);
    const renderer = new PreviewRenderer();
    const service = new MediaService(harness.database, store, harness.app.services.artifacts, { findCallRecord: async () => undefined }, renderer, 1024 * 1024);
    try {
      const speech = wav(1000);
      const stored = await service.storeUpload({ orgId: orgA.orgId, profileId: orgA.adminProfileId, kind: 'audio', mimeType: 'audio/wav', bytes: speech, name: 'Generated reply' });
      const [row] = await harness.database.db.selectFrom('uploads').selectAll().where('id', '=', stored.uploadId).execute();
      assert.equal(row!.mime_type, 'audio/wav');
      await assert.rejects(
        service.storeUpload({ orgId: orgA.orgId, profileId: orgA.adminProfileId, kind: 'image', mimeType: 'image/png', bytes: speech }),
        (error: any) => error.status === 422,
        'generated media is checked like any upload',
      );

      // A crash after publishing but before the commit, and one in the middle of writing.
      const orphan = await store.stage(Buffer.from(`orphan ${randomUUID()}`));
      await orphan.publish();
      const halfUpload = path.join(folder, 'staging', `${randomUUID()}.part`);
      writeFileSync(halfUpload, 'half an upload');
      // Age them past the hour's grace with the file clock itself: comparing a fresh mtime with Date.now() is a coin toss.
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      utimesSync(halfUpload, twoHoursAgo, twoHoursAgo);
      utimesSync(path.join(folder, 'blobs', orphan.sha256.slice(0, 2), orphan.sha256), twoHoursAgo, twoHoursAgo);
      const inFlight = path.join(folder, 'staging', `${randomUUID()}.part`);
      writeFileSync(inFlight, 'another process is still writing this');
      assert.deepEqual(await service.sweep({ stagingOlderThanMs: 3_600_000, orphansOlderThanMs: 3_600_000 }), { staging: 1, orphans: 1 });
      rmSync(inFlight);
      assert.equal(await store.stat(orphan.sha256), undefined);
      assert.deepEqual(await store.stat(row!.sha256!), { size: speech.length }, 'a blob an upload refers to stays');
      assert.deepEqual(mediaFiles(folder), [path.join('blobs', row!.sha256!.slice(0, 2), row!.sha256!)]);
    } finally {
      await renderer.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('call_download is a download like the others: ETag, If-None-Match 304, one Range 206, 416 past the end', async () => {
    const run = await orgA.admin.post('/persona/generate', { instructions: ['A persona to download the call of'], wait_for_complete: true });
    assert.equal(run.status, 200, run.text);
    const whole = await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id });
    assert.equal(whole.status, 200);
    assert.equal(whole.json.run_id, run.body.run_id);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const etag = whole.headers.get('etag')!;
    assert.match(etag, /^"[0-9a-f]{64}"$/);
    assert.equal(Number(whole.headers.get('content-length')), whole.bytes.length);
    const part = await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id }, { range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 0-9/${whole.bytes.length}`);
    assert.deepEqual(part.bytes, whole.bytes.subarray(0, 10));
    const tail = await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id }, { range: 'bytes=-5', 'if-range': etag });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.bytes, whole.bytes.subarray(whole.bytes.length - 5));
    assert.equal((await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id }, { range: 'bytes=0-9', 'if-range': '"stale"' })).status, 200);
    assert.equal((await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id }, { 'if-none-match': etag })).status, 304);
    const past = await fetchBinary(orgA.admin, '/persona/call_download', { call_id: run.body.run_id }, { range: `bytes=${whole.bytes.length}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${whole.bytes.length}`);
  });

  test('call_download of an unknown call is 404', async () => {
    const response = await fetchBinary(orgA.admin, '/attempt/call_download', { call_id: randomUUID() });
    assert.equal(response.status, 404);
    assert.equal((await fetchBinary(orgA.admin, '/persona/call_download', { call_id: 'not-a-uuid' })).status, 400);
  });

  /** A hand-built multipart body: parts given as their header lines and bytes, the close delimiter last unless `cut`. */
  function multipartBody(parts: { headers: string[]; body: Buffer | string }[]): { boundary: string; body: Buffer } {
    const boundary = `----glow${randomUUID()}`;
    const chunks: Buffer[] = [];
    for (const part of parts) {
      chunks.push(Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`), Buffer.isBuffer(part.body) ? part.body : Buffer.from(part.body), Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return { boundary, body: Buffer.concat(chunks) };
  }

  async function sendMultipart(client: ApiClient, route: string, parts: { headers: string[]; body: Buffer | string }[]): Promise<{ status: number; body: any; text: string }> {
    const { boundary, body } = multipartBody(parts);
    const response = await client.request('POST', route, { rawBody: new Uint8Array(body), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    return { status: response.status, body: response.body, text: response.text };
  }

  const filePart = (filename: string | undefined, type: string, bytes: Buffer | string) => ({
    headers: [`Content-Disposition: form-data; name="file"${filename === undefined ? '' : `; filename="${filename}"`}`, `Content-Type: ${type}`],
    body: bytes,
  });
  const fieldPart = (name: string, value: string) => ({ headers: [`Content-Disposition: form-data; name="${name}"`], body: value });

  test('a TIFF whose first IFD lies past the sniffed head is accepted as image/tiff (either byte order)', async () => {
    for (const order of ['II', 'MM'] as const) {
      const tiff = tiffWithLateIfd(order, 6000);
      const uploaded = await upload(orgA.admin, '/scenario/image_upload', { bytes: tiff, type: 'image/tiff', filename: `scan-${order}.tif` });
      assert.equal(uploaded.status, 200, `${order}: ${JSON.stringify(uploaded.body)}`);
      const download = await fetchBinary(orgA.admin, '/system/image_download', { image_id: uploaded.body.upload_id });
      assert.equal(download.headers.get('content-type'), 'image/tiff');
      assert.ok(download.bytes.equals(tiff));
      // Sent as "some bytes" on the file route, it is kept as the TIFF it is.
      const untyped = await upload(orgA.admin, '/document/file_upload', { bytes: tiff, type: 'application/octet-stream', filename: 'scan' });
      assert.equal(untyped.status, 200);
      const [row] = await harness.database.db.selectFrom('uploads').select('mime_type').where('id', '=', untyped.body.upload_id).execute();
      assert.equal(row!.mime_type, 'image/tiff');
    }
    // A TIFF header does not make other bytes a PNG, nor text a TIFF.
    await leavesNothing(orgA, async () => {
      assert.equal((await upload(orgA.admin, '/scenario/image_upload', { bytes: tiffWithLateIfd('II'), type: 'image/png' })).status, 422);
      assert.equal((await upload(orgA.admin, '/scenario/image_upload', { bytes: Buffer.from('II* is not a TIFF'), type: 'image/tiff' })).status, 422);
    });
  });

  test('an upload refused from its part headers (415) or an early part (400) with a multi-MiB body still answers its JSON, every time', async () => {
    const url = new URL(harness.baseUrl);
    const bigBytes = Buffer.alloc(6 * 1024 * 1024, 0x5a);
    // Like curl: the client sends its whole body before it reads a byte of the answer. A server
    // that answers and closes while unread body is still arriving resets the connection, and the
    // client then fails its write (EPIPE, ECONNRESET) and loses the answer.
    const post = (route: string, boundary: string, body: Buffer) =>
      new Promise<{ status: number; text: string; connection: string | undefined }>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname);
        socket.pause();
        const received: Buffer[] = [];
        socket.on('error', reject);
        socket.setTimeout(15_000, () => socket.destroy(new Error('no answer')));
        socket.on('close', () => {
          const raw = Buffer.concat(received).toString('utf8');
          const [head = '', text = ''] = raw.split('\r\n\r\n', 2);
          const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
          if (!status) return reject(new Error(`no answer read: ${JSON.stringify(raw)}`));
          resolve({ status, text, connection: /\r\nconnection: *([^\r]*)/i.exec(head)?.[1] });
        });
        socket.write(
          `POST ${route} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${orgA.admin.token}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        );
        socket.write(body, (error) => {
          if (error) return;
          socket.on('data', (chunk: Buffer) => received.push(chunk));
          socket.resume();
        });
      });
    const offList = multipartBody([filePart('big.bin', 'application/octet-stream', bigBytes)]);
    const unknownFirst = multipartBody([fieldPart('colour', 'blue'), filePart('big.wav', 'audio/wav', bigBytes)]);
    await leavesNothing(orgA, async () => {
      for (let round = 0; round < 6; round += 1) {
        const refused = await post('/attempt/audio_upload', offList.boundary, offList.body);
        assert.equal(refused.status, 415, refused.text);
        assert.equal(JSON.parse(refused.text).error.code, 'unsupported_media_type');
        assert.equal(refused.connection, 'close');
        const unknown = await post('/scenario/image_upload', unknownFirst.boundary, unknownFirst.body);
        assert.equal(unknown.status, 400, unknown.text);
        assert.match(JSON.parse(unknown.text).error.message, /colour/);
      }
    });
  });

  test('bytes that are not text are 422 under a text type (text uploads, SVG); a video type needs a video signature', async () => {
    const notText = {
      'NUL bytes': Buffer.from('name,score\nAna\u0000,5\n'),
      'random binary': Buffer.from(Array.from({ length: 5000 }, (_, index) => (index * 7919 + 13) % 256)),
    };
    await leavesNothing(orgA, async () => {
      for (const [what, bytes] of Object.entries(notText)) {
        for (const type of ['text/plain', 'text/csv', 'application/json', 'text/markdown']) {
          const refused = await upload(orgA.admin, '/document/text_upload', { bytes, type, filename: 'notes.txt' });
          assert.equal(refused.status, 422, `${what} as ${type}: ${JSON.stringify(refused.body)}`);
          assert.equal(refused.body.error.code, 'unprocessable_content');
          assert.match(refused.body.error.message, /^The file does not match its declared type: the bytes are not text .*NUL bytes/);
          assert.equal(refused.body.error.details.declared, type);
        }
        const svg = await upload(orgA.admin, '/scenario/image_upload', { bytes, type: 'image/svg+xml', filename: 'logo.svg' });
        assert.equal(svg.status, 422, `${what} as SVG`);
      }
      for (const [what, bytes] of Object.entries({ 'plain text': Buffer.from('not a video at all\n'.repeat(50)), 'an empty file': Buffer.alloc(0) })) {
        for (const type of ['video/x-glow', 'video/x-unknown']) {
          const refused = await upload(orgA.admin, '/scenario/video_upload', { bytes, type, filename: 'clip' });
          assert.equal(refused.status, 422, `${what} as ${type}: ${JSON.stringify(refused.body)}`);
          assert.equal(refused.body.error.code, 'unprocessable_content');
          assert.match(refused.body.error.message, /no recognisable video signature/);
        }
      }
    });
    // Text stays text: UTF-8, UTF-16 with its byte order mark, a CSV Excel saved in Windows-1252 (not
    // UTF-8, still text), an empty file; a video subtype with a video's bytes is a video.
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,score\nAna,5\n', 'utf16le')]);
    const windows1252 = Buffer.from('name,score\nJos\u00e9,5\nFran\u00e7oise,4\n', 'latin1');
    for (const bytes of [Buffer.from('naïve, café\n'), utf16, windows1252, Buffer.alloc(0)]) {
      assert.equal((await upload(orgA.admin, '/document/text_upload', { bytes, type: 'text/csv' })).status, 200);
    }
    assert.equal((await upload(orgA.admin, '/scenario/image_upload', { bytes: SVG_WITH_SCRIPT, type: 'image/svg+xml' })).status, 200);
    assert.equal((await upload(orgA.admin, '/scenario/video_upload', { bytes: webmLike(), type: 'video/x-glow' })).status, 200);
  });

  test('a name or description part sent twice is 400 naming it', async () => {
    for (const field of ['name', 'description']) {
      await leavesNothing(orgA, async () => {
        const twice = await sendMultipart(orgA.admin, '/document/text_upload', [fieldPart(field, 'first'), filePart('a.txt', 'text/plain', 'hello'), fieldPart(field, 'second')]);
        assert.equal(twice.status, 400, twice.text);
        assert.equal(twice.body.error.code, 'invalid_request');
        assert.match(twice.body.error.message, new RegExp(`more than one ${field} part`));
        assert.deepEqual(twice.body.error.details.fields.map((item: { path: string }) => item.path), [field]);
      });
    }
    const slot = (await orgA.admin.post('/attempt/audio/new', {})).body.upload_id as string;
    const promoted = await sendMultipart(orgA.admin, `/attempt/audio_upload?upload_id=${slot}`, [fieldPart('name', 'a'), fieldPart('name', 'b')]);
    assert.equal(promoted.status, 400, promoted.text);
  });

  test('media routes refuse query parameters they do not take (400 naming them)', async () => {
    const text = await upload(orgA.admin, '/document/text_upload', { bytes: Buffer.from('hello'), type: 'text/plain' });
    await leavesNothing(orgA, async () => {
      for (const route of ['/scenario/image_upload?foo=1', `/document/text_upload?upload_id=${text.body.upload_id}`, '/document/file_upload?name=x', '/attempt/audio_upload?foo=1']) {
        const refused = await upload(orgA.admin, route, { bytes: await noisePng(8, 8), type: 'image/png' });
        assert.equal(refused.status, 400, `${route}: ${JSON.stringify(refused.body)}`);
        assert.match(refused.body.error.message, /^Unknown field: (foo|upload_id|name)\./, route);
      }
    });
    for (const [route, body] of [
      ['/system/text_download?foo=1', { text_id: text.body.upload_id }],
      ['/document/text_download?range=0-1', { text_id: text.body.upload_id }],
      ['/system/file_preview?foo=1', { file_id: text.body.upload_id }],
      ['/attempt/call_download?foo=1', { call_id: randomUUID() }],
      ['/attempt/audio/new?foo=1', {}],
    ] as const) {
      const refused = await fetchBinary(orgA.admin, route, body);
      assert.equal(refused.status, 400, route);
      assert.match(refused.json.error.message, /^Unknown field: (foo|range)\./, route);
    }
    assert.equal((await fetchBinary(orgA.admin, '/system/text_download', { text_id: text.body.upload_id })).status, 200);
  });

  test('file names: %22, %0D and %0A from browsers and curl are decoded once; a long name keeps its extension; a file part with no filename is 400', async () => {
    const stored = async (filename: string, via: 'raw' | 'form') => {
      const sent = via === 'raw'
        ? await sendMultipart(orgA.admin, '/document/text_upload', [filePart(filename, 'text/plain', 'hello')])
        : await upload(orgA.admin, '/document/text_upload', { bytes: Buffer.from('hello'), type: 'text/plain', filename });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const [row] = await harness.database.db.selectFrom('uploads').select('filename').where('id', '=', sent.body.upload_id).execute();
      const download = await fetchBinary(orgA.admin, '/system/text_download', { text_id: sent.body.upload_id });
      return { filename: row!.filename, disposition: download.headers.get('content-disposition') };
    };
    // What curl and browsers put on the wire for a"b.txt, and what fetch's FormData does with it.
    for (const sent of [await stored('a%22b.txt', 'raw'), await stored('a"b.txt', 'form')]) {
      assert.equal(sent.filename, 'a"b.txt');
      assert.equal(sent.disposition, `inline; filename="a\\"b.txt"; filename*=UTF-8''a%22b.txt`);
    }
    assert.equal((await stored('line%0D%0Abreak.txt', 'raw')).filename, 'linebreak.txt');
    assert.equal((await stored('100%25 sure %41.txt', 'raw')).filename, '100%25 sure %41.txt', 'only %22, %0D and %0A are decoded');

    const long = `${'é'.repeat(300)}.pdf.txt`;
    const shortened = (await stored(long, 'raw')).filename!;
    assert.equal(Array.from(shortened).length, 255);
    assert.ok(shortened.endsWith('é.txt'), shortened);

    await leavesNothing(orgA, async () => {
      const plain = await sendMultipart(orgA.admin, '/document/text_upload', [{ headers: ['Content-Disposition: form-data; name="file"'], body: 'hello' }]);
      assert.equal(plain.status, 400, plain.text);
      assert.match(plain.body.error.message, /file part must carry a file.*filename=/);
      assert.doesNotMatch(plain.body.error.message, /Unknown form field/);
    });
  });
});

describe('media rules', () => {
  test('signature check: declared types must match the bytes where the format has a signature', () => {
    assert.deepEqual(checkSignature('image/png', 'image/png'), { ok: true });
    assert.equal(checkSignature('image/png', undefined).ok, false);
    assert.equal(checkSignature('image/png', 'application/x-msdownload').ok, false);
    assert.equal(checkSignature('audio/mpeg', 'image/png').ok, false);
    assert.deepEqual(checkSignature('audio/webm', 'video/webm'), { ok: true });
    assert.deepEqual(checkSignature('audio/x-m4a', 'video/mp4'), { ok: true });
    assert.deepEqual(checkSignature('video/mp4', 'video/quicktime'), { ok: true });
    assert.deepEqual(checkSignature('text/plain', undefined), { ok: true });
    assert.equal(checkSignature('text/csv', 'application/zip').ok, false);
    assert.deepEqual(checkSignature('image/svg+xml', 'application/xml'), { ok: true });
    assert.deepEqual(checkSignature('application/octet-stream', 'image/png'), { ok: true });
    assert.deepEqual(checkSignature('video/x-unknown', 'video/webm'), { ok: true });
    assert.equal(checkSignature('video/x-unknown', 'image/png').ok, false);
    // Any format the sniffer knows needs its signature, not only media and PDF.
    assert.equal(checkSignature('application/zip', 'application/x-elf').ok, false);
    assert.equal(checkSignature('application/gzip', undefined).ok, false);
    assert.equal(checkSignature('font/woff2', 'image/png').ok, false);
    // Documents kept in a container may sniff as the container.
    assert.deepEqual(checkSignature('application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/zip'), { ok: true });
    assert.deepEqual(checkSignature('application/epub+zip', 'application/zip'), { ok: true });
    assert.deepEqual(checkSignature('application/vnd.ms-outlook', 'application/x-cfb'), { ok: true });
    assert.equal(checkSignature('application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/x-cfb').ok, false);
    // Types whose signature is not mandatory are taken as declared, whatever is found.
    assert.deepEqual(checkSignature('application/x-glow-notes', 'image/png'), { ok: true });
    assert.deepEqual(checkSignature('application/postscript', 'application/eps'), { ok: true });
    assert.deepEqual(checkSignature('model/stl', undefined), { ok: true });
    assert.deepEqual(checkSignature('image/png', 'image/apng'), { ok: true });
    assert.deepEqual(checkSignature('video/mpeg', 'video/mp1s'), { ok: true });
    // A weak signature (BM, MZ, ID3) in bytes that read as text does not make text a lie; a PDF does.
    assert.deepEqual(checkSignature('text/csv', 'image/bmp', true), { ok: true });
    assert.equal(checkSignature('text/csv', 'image/bmp', false).ok, false);
    assert.equal(checkSignature('text/plain', 'application/pdf', true).ok, false);
    assert.equal(looksLikeText(Buffer.from('BM,score\nAna,5\n')), true);
    assert.equal(looksLikeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ok', 'utf16le')])), true);
    assert.equal(looksLikeText(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00])), false);
    assert.equal(looksLikeText(Buffer.from('caf\u00e9', 'utf8').subarray(0, 4)), true, 'a character cut by the end of the head');
  });


  test('download plan: conditional and range headers per RFC 9110', () => {
    const etag = '"abc"';
    assert.deepEqual(planDownload(1000, etag, {}), { status: 200 });
    assert.deepEqual(planDownload(1000, etag, { ifNoneMatch: 'W/"abc", "x"' }), { status: 304 });
    assert.deepEqual(planDownload(1000, etag, { ifNoneMatch: '*' }), { status: 304 });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=0-0' }), { status: 206, range: { start: 0, end: 0 } });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=990-2000' }), { status: 206, range: { start: 990, end: 999 } });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=1000-' }), { status: 416 });
    assert.deepEqual(planDownload(0, etag, { range: 'bytes=0-' }), { status: 416 });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=0-1,5-6' }), { status: 200 });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=5-2' }), { status: 200 }, 'an end before the start is invalid: ignored, not 416');
    assert.deepEqual(planDownload(10, etag, { range: 'bytes=20-30' }), { status: 416 });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=0-1', ifRange: 'Mon, 01 Jan 2024 00:00:00 GMT' }), { status: 200 });
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=-5000' }), { status: 206, range: { start: 0, end: 999 } }, 'a suffix longer than the file is the whole file');
    assert.deepEqual(planDownload(1000, etag, { range: 'bytes=-0' }), { status: 416 });
    assert.deepEqual(planDownload(0, etag, { range: 'bytes=-5' }), { status: 416 }, 'no range of an empty file is satisfiable');
    assert.deepEqual(planDownload(1000, etag, { range: 'Bytes=-5' }), { status: 206, range: { start: 995, end: 999 } });
    assert.deepEqual(planDownload(10, etag, { range: 'pages=20-30' }), { status: 200 }, 'another unit is ignored, not 416');
  });

  test('Content-Disposition always carries an ASCII fallback and the UTF-8 name', () => {
    assert.equal(inlineDisposition('report.pdf'), `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    assert.equal(inlineDisposition('café (1).pdf'), `inline; filename="cafe (1).pdf"; filename*=UTF-8''caf%C3%A9%20%281%29.pdf`);
    assert.equal(inlineDisposition('日本.txt'), `inline; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`);
    assert.equal(inlineDisposition('notes 🎉.txt'), `inline; filename="notes _.txt"; filename*=UTF-8''notes%20%F0%9F%8E%89.txt`);
  });

  test('S3 blob store against an in-memory S3 endpoint: stage, publish, ranged read, stat, sweep, size limit, a missing blob', async () => {
    // No real S3 here: this checks the store's use of the SDK (keys, copy-on-publish, multipart, ranges), not a provider.
    const s3 = await startFakeS3('glow-media');
    const store = new S3BlobStore({ bucket: 'glow-media', endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test', forcePathStyle: true });
    try {
      const bytes = Buffer.from('hello s3 '.repeat(1000));
      const staged = await store.stage(bytes);
      assert.equal(staged.size, bytes.length);
      assert.equal(await store.stat(staged.sha256), undefined, 'not visible before publish');
      assert.equal([...s3.objects.keys()].filter((key) => key.startsWith('staging/')).length, 1);
      await staged.publish();
      assert.deepEqual([...s3.objects.keys()], [`blobs/${staged.sha256.slice(0, 2)}/${staged.sha256}`], 'published under its hash, staging copy gone');
      assert.deepEqual(await store.stat(staged.sha256), { size: bytes.length });
      const chunks: Buffer[] = [];
      for await (const chunk of await store.read(staged.sha256, { start: 6, end: 7 })) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 's3');

      const large = Buffer.alloc(6 * 1024 * 1024, 3);
      const multipart = await store.stage(large);
      await multipart.publish();
      assert.deepEqual(await store.stat(multipart.sha256), { size: large.length });
      assert.equal(s3.openMultipartUploads(), 0);

      await assert.rejects(store.stage(Buffer.alloc(2000), { maxBytes: 1000 }), BlobTooLargeError);
      const discarded = await store.stage(Buffer.from('never published'));
      await discarded.discard();
      assert.equal([...s3.objects.keys()].filter((key) => key.startsWith('staging/')).length, 0, 'nothing staged is left');

      await store.stage(Buffer.from('left by a crash'));
      assert.equal(await store.sweepStaging(0), 1);
      const published: string[] = [];
      for await (const sha256 of store.listPublished(0)) published.push(sha256);
      assert.deepEqual(published.sort(), [staged.sha256, multipart.sha256].sort());
      await store.delete(staged.sha256);
      assert.equal(await store.stat(staged.sha256), undefined);
      await assert.rejects(store.read(staged.sha256), BlobMissingError);
    } finally {
      await s3.close();
    }
  });
});
