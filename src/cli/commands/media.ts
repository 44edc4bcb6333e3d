import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import { fileTypeFromBuffer } from 'file-type';
import mime from 'mime-types';
import { stringFlag, UsageError } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { CliError, type GlowClient } from '../http.ts';
import { escapeControls, printResult, type Output } from '../output.ts';
import { bareMimeType, looksLikeText, SNIFF_BYTES } from '../../media/kinds.ts';

export const MEDIA_KINDS = ['audio', 'image', 'video', 'file', 'text'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];
const DOWNLOAD_KINDS = [...MEDIA_KINDS, 'call'];

/** Files at least this big get a progress bar on a terminal. */
const PROGRESS_THRESHOLD = 4 * 1024 * 1024;

/**
 * The type to declare for `file`: what its bytes say (file-type), else what its name says
 * (mime-types), else application/octet-stream. Bytes that read as text are text, typed by name
 * (a UTF-16 CSV's `FF FE` is not an MP3 frame), unless they are a PDF. WebM, MP4 and Ogg
 * containers read as video; uploaded as audio they are declared as the audio flavour of the
 * same container.
 */
export async function contentTypeOf(file: string, kind: string): Promise<string> {
  // The first bytes, as many as the server sniffs: the same verdict on both sides, from one read.
  const head = await readHead(file, SNIFF_BYTES);
  const sniffed = (await fileTypeFromBuffer(head))?.mime;
  const fromBytes = sniffed === undefined ? undefined : bareMimeType(sniffed);
  const fromName = mime.lookup(file) || undefined;
  const text = looksLikeText(head);
  let type: string = text && fromBytes !== 'application/pdf' ? (fromName ?? 'text/plain') : (fromBytes ?? fromName ?? 'application/octet-stream');
  if (kind === 'audio') {
    const container = /^video\/(webm|mp4|ogg)$/.exec(type);
    if (container) type = `audio/${container[1]}`;
  }
  return type;
}

async function readHead(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function quoted(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/**
 * A multipart/form-data body streamed from disk: the file is read in chunks as the request
 * goes out, never held whole, and `onBytes` sees each chunk leave (for the progress bar).
 */
function multipartStream(file: string, contentType: string, fields: Record<string, string>, onBytes: (count: number) => void) {
  const boundary = `----glow${randomBytes(12).toString('hex')}`;
  const encoder = new TextEncoder();
  async function* parts() {
    for (const [name, value] of Object.entries(fields)) {
      yield encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`);
    }
    yield encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(path.basename(file))}"\r\nContent-Type: ${contentType}\r\n\r\n`);
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
      onBytes((chunk as Buffer).length);
      yield new Uint8Array(chunk as Buffer);
    }
    yield encoder.encode(`\r\n--${boundary}--\r\n`);
  }
  return { body: Readable.from(parts()), contentType: `multipart/form-data; boundary=${boundary}` };
}

function byteBar(output: Output, total: number, label: string): { add: (count: number) => void; stop: () => void } {
  if (!process.stderr.isTTY || output.json || total < PROGRESS_THRESHOLD) return { add: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({
    format: `${label} {bar} {percentage}% {value_mb}/{total_mb} MB`,
    stream: process.stderr,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  let sent = 0;
  bar.start(total, 0, { value_mb: mb(0), total_mb: mb(total) });
  return {
    add: (count) => {
      sent += count;
      bar.update(sent, { value_mb: mb(sent), total_mb: mb(total) });
    },
    stop: () => bar.stop(),
  };
}

/** Uploads `file` to `POST /<owner>/<kind>_upload`; answers the server's ids. */
export async function uploadFile(client: GlowClient, output: Output, owner: string, kind: string, file: string, options: { name?: string; description?: string; type?: string; uploadId?: string } = {}): Promise<Record<string, string>> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${file} is not a readable file.`);
  const contentType = options.type ?? (await contentTypeOf(file, kind));
  const fields: Record<string, string> = {};
  if (options.name !== undefined) fields.name = options.name;
  if (options.description !== undefined) fields.description = options.description;
  const progress = byteBar(output, info.size, `uploading ${path.basename(file)}`);
  const multipart = multipartStream(file, contentType, fields, progress.add);
  const query = options.uploadId ? `?upload_id=${encodeURIComponent(options.uploadId)}` : '';
  let response: Response;
  try {
    response = await client.sendStreaming(`/${owner}/${kind}_upload${query}`, multipart.body, { 'content-type': multipart.contentType });
  } catch (error) {
    if (!(error instanceof CliError) || /cannot reach/.test(error.message)) throw error;
    // The server refuses an upload as soon as it has seen enough, and may reset the connection
    // before its answer can be read; a failed upload leaves nothing behind on the server.
    throw new CliError(`the server closed the connection while ${file} (${contentType}, ${info.size} bytes) was being sent. It does that when it refuses an upload early: a type not accepted for ${kind} uploads (declare another with --type), bytes that do not match the type, or a file over its size limit. Nothing was stored. (${error.message})`);
  } finally {
    progress.stop();
  }
  await client.ensureOk(response);
  return (await client.json(response, `POST /${owner}/${kind}_upload`)) as Record<string, string>;
}

/** `glow <plural> upload <kind> <path> [--name N] [--description D] [--type MIME] [--upload-id ID]`. */
export async function uploadCommand(context: CommandContext): Promise<number> {
  const [kind, file, extra] = context.args.positionals;
  const uploadId = stringFlag(context.args, 'upload-id');
  const name = stringFlag(context.args, 'name');
  const description = stringFlag(context.args, 'description');
  if (!kind || (!file && !uploadId) || extra !== undefined) throw new UsageError(`usage: glow ${context.noun} upload <${MEDIA_KINDS.join('|')}> <path> [--name N] [--description D]`);
  if (!(MEDIA_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown upload kind "${kind}"; one of ${MEDIA_KINDS.join(', ')}.`);
  await ensureKindOffered(context, kind, 'upload');
  if (!file) {
    // No file with --upload-id: promote an upload that already exists (attempt audio).
    const labels = { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) };
    printResult(context.output, await context.client.call(`/${context.type}/${kind}_upload?upload_id=${encodeURIComponent(uploadId!)}`, labels));
    return 0;
  }
  const result = await uploadFile(context.client, context.output, context.type, kind, file, {
    name,
    description,
    type: stringFlag(context.args, 'type'),
    uploadId,
  });
  printResult(context.output, result);
  return 0;
}

/**
 * Writes a binary response to `--output` (streamed) or stdout, and says what was written on
 * stderr (or as JSON with --json when a file was written).
 */
async function saveBody(context: CommandContext, response: Response, outputFile: string | undefined): Promise<number> {
  if (!response.body) throw new CliError('the server answered with no body');
  const contentType = response.headers.get('content-type') ?? '';
  if (!outputFile && process.stdout.isTTY && !/^(text\/|application\/json)/.test(contentType)) {
    throw new UsageError(`refusing to write ${contentType || 'binary data'} to the terminal; pass --output <file> (or redirect stdout).`);
  }
  let bytes = 0;
  const total = Number(response.headers.get('content-length') ?? 0);
  const progress = byteBar(context.output, total, 'downloading');
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      progress.add(chunk.length);
      callback(null, chunk);
    },
  });
  // Text shown on a terminal is the server's data: its control characters are shown escaped.
  const toTerminal = !outputFile && process.stdout.isTTY;
  try {
    await pipeline(Readable.fromWeb(response.body as any), counter, ...(toTerminal ? [terminalSafe()] : []), outputFile ? createWriteStream(outputFile) : process.stdout);
  } finally {
    progress.stop();
  }
  const summary = {
    output: outputFile ?? '(stdout)',
    bytes,
    status: response.status,
    content_type: contentType,
    ...(response.headers.get('content-range') ? { content_range: response.headers.get('content-range') } : {}),
  };
  if (outputFile) {
    if (context.output.json) context.output.out(JSON.stringify(summary));
    else context.output.err(`wrote ${bytes} bytes to ${outputFile} (${contentType}, HTTP ${response.status}${summary.content_range ? `, ${summary.content_range}` : ''})`);
  }
  return 0;
}

/** `--range` as a Range header: `a-b`, `a-` (from a to the end) or `-n` (the last n bytes), with or without `bytes=`. */
export function byteRange(range: string): string {
  const spec = range.trim().replace(/^bytes=/, '');
  const match = /^(?:(\d+)-(\d*)|-(\d+))$/.exec(spec);
  if (!match || (match[2] && Number(match[2]) < Number(match[1])) || (match[3] !== undefined && Number(match[3]) === 0)) {
    throw new UsageError(`--range "${range}" is not a byte range: write a-b (bytes a to b, counted from 0), a- (from a to the end) or -n (the last n bytes).`);
  }
  return `bytes=${spec}`;
}

/** Refuses, before sending anything, a kind of upload or download the family does not offer. */
async function ensureKindOffered(context: CommandContext, kind: string, verb: 'upload' | 'download'): Promise<void> {
  const { schemaOperations } = await import('../catalogue.ts');
  const paths = new Set((await schemaOperations()).map((operation) => operation.path));
  if (paths.has(`/${context.type}/${kind}_${verb}`)) return;
  const candidates = verb === 'upload' ? [...MEDIA_KINDS] : DOWNLOAD_KINDS;
  const offered = candidates.filter((candidate) => paths.has(`/${context.type}/${candidate}_${verb}`));
  throw new UsageError(
    `\`glow ${context.noun} ${verb}\` has no kind "${kind}"; ${offered.length > 0 ? `the kinds ${context.noun} offers: ${offered.join(', ')}` : `nothing can be ${verb === 'upload' ? 'uploaded to' : 'downloaded from'} ${context.noun}`} (\`glow ${context.noun} --help\`).`,
  );
}

/** A UTF-8 stream with its control characters (but newline and tab) escaped, as escapeControls does. */
export function terminalSafe(): Transform {
  const decoder = new StringDecoder('utf8');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, escapeControls(decoder.write(chunk)));
    },
    flush(callback) {
      callback(null, escapeControls(decoder.end()));
    },
  });
}

/** `glow <plural> download <kind> <id> [--output F] [--range a-b]`. */
export async function downloadCommand(context: CommandContext): Promise<number> {
  const [kind, id, extra] = context.args.positionals;
  if (!kind || !id || extra !== undefined) throw new UsageError(`usage: glow ${context.noun} download <${DOWNLOAD_KINDS.join('|')}> <id> [--output F] [--range a-b]`);
  if (!DOWNLOAD_KINDS.includes(kind)) throw new UsageError(`unknown download kind "${kind}"; one of ${DOWNLOAD_KINDS.join(', ')}.`);
  const range = stringFlag(context.args, 'range');
  const headers: Record<string, string> = {};
  if (range !== undefined) headers.range = byteRange(range);
  await ensureKindOffered(context, kind, 'download');
  const response = await context.client.ensureOk(await context.client.send(`/${context.type}/${kind}_download`, {
    method: 'POST',
    json: { [`${kind}_id`]: id },
    headers,
  }));
  return saveBody(context, response, stringFlag(context.args, 'output'));
}

/** `glow <plural> preview <file_id> --output p.png`. */
export async function previewCommand(context: CommandContext): Promise<number> {
  const [fileId, extra] = context.args.positionals;
  if (!fileId || extra !== undefined) throw new UsageError(`usage: glow ${context.noun} preview <file_id> --output <file.png>`);
  const response = await context.client.ensureOk(await context.client.send(`/${context.type}/file_preview`, {
    method: 'POST',
    json: { file_id: fileId },
  }));
  return saveBody(context, response, stringFlag(context.args, 'output'));
}
