/**
 * A local model server for tests: a real HTTP server on 127.0.0.1 that speaks the OpenAI
 * chat-completions wire format (`POST /v1/chat/completions`, JSON or SSE with `stream: true`)
 * and the Anthropic messages wire format (`POST /v1/messages`, JSON or SSE events), so the real
 * provider code (the AI SDK behind `src/llm`) runs end to end with no network.
 *
 *   const fake = await startFakeProvider();
 *   // OpenAI or OpenAI-compatible base URL: fake.url (http://127.0.0.1:PORT/v1)
 *   // Anthropic base URL:                   fake.anthropicUrl (the same /v1 base; Anthropic posts to /v1/messages)
 *   fake.enqueue({ status: 429, headers: { 'retry-after': '0' } });      // next request
 *   fake.enqueue({ artifact: 'example', fault: 'fenced' });              // the one after
 *   fake.setDefault({ reply: 'Hello from the fake' });                    // once the queue is empty
 *   fake.requests[0].headers.authorization;  fake.requests[0].body.response_format;
 *   fake.reset();  await fake.close();
 *
 * Behaviours (`FakeBehaviour`), taken one per model request from the queue, else the default:
 * - `{ artifact: 'example', fault?, usage? }` (the initial default): a valid artifact of the family
 *   the request asks for (found from the `Artifact type: <type>` line of the system prompt Glow
 *   sends), `{name, description, data: family.example}`; `fault` spoils it the way models do:
 *   `fenced` (markdown fence), `prose` (sentences around it), `truncated` (tail cut off),
 *   `extra_keys` (unknown keys at every level), `null_optional` (null for every absent optional
 *   field). A request that names no artifact type (a chat turn) gets `Fake reply to: <last user text>`.
 * - `{ reply: string | object | (request) => string | object, usage? }`: exactly this text (an
 *   object is sent as its JSON). With `stream: true` the text is sent in `chunks` pieces (default
 *   4) `chunkDelayMs` apart (default 5).
 * - `{ status, body?, headers? }`: an error response, e.g. 429 with `retry-after`, or 500.
 * - `{ delayMs, then? }`: waits, then behaves as `then` (default: the default behaviour).
 * - `{ hang: true }`: never answers; the response ends only when the client goes away.
 * - `{ bytes, contentType? }`: media bytes of your choosing (a real MP3, or garbage): the image
 *   endpoint sends them as the `b64_json` image, the speech endpoint as the body with
 *   `contentType` (default application/octet-stream); other endpoints answer them as text.
 * `enqueue(behaviour, times)` queues the same behaviour `times` times (e.g. 500 twice, then success).
 *
 * Every request (model or not) is recorded in `requests` with its method, path, lowercased
 * headers, parsed JSON body (or raw text) and arrival time, in arrival order.
 *
 * Also served, for media providers: `POST /v1/images/generations` (b64_json of a 1x1 PNG per
 * image), `POST /v1/audio/speech` (a short WAV), `POST /v1/audio/transcriptions` (`{text}`, the
 * text set with `{ reply }` or "fake transcript"). They take their behaviour from the same queue.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import type { ArtifactType, FamilyDefinition } from '../../src/artifacts/types.ts';
import { encodeWav } from '../../src/synthesis/speech.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON (multipart uploads). */
  body: any;
  receivedAt: number;
}

export type ArtifactFault = 'fenced' | 'prose' | 'truncated' | 'extra_keys' | 'null_optional';

export interface FakeUsage {
  input: number;
  output: number;
}

export interface FakeRequestContext {
  wire: 'openai' | 'anthropic' | 'media';
  path: string;
  body: any;
  /** The artifact type named in the system prompt, when the request is a generation. */
  artifactType?: ArtifactType;
  /** Every message's text, system first, in order. */
  texts: { role: string; text: string }[];
}

export type FakeBehaviour =
  | { artifact: 'example'; fault?: ArtifactFault; usage?: FakeUsage }
  | { reply: string | object | ((request: FakeRequestContext) => string | object); usage?: FakeUsage; chunks?: number; chunkDelayMs?: number }
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { delayMs: number; then?: FakeBehaviour }
  | { hang: true }
  | { bytes: Buffer; contentType?: string };

export interface FakeProvider {
  /** OpenAI / OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Anthropic base URL (the SDK appends `/messages`). */
  anthropicUrl: string;
  requests: RecordedRequest[];
  enqueue(behaviour: FakeBehaviour, times?: number): void;
  setDefault(behaviour: FakeBehaviour): void;
  /** Empties the queue and the recorded requests and restores the default behaviour. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE: FakeUsage = { input: 120, output: 80 };
const INITIAL_DEFAULT: FakeBehaviour = { artifact: 'example' };

export async function startFakeProvider(): Promise<FakeProvider> {
  const requests: RecordedRequest[] = [];
  let queue: FakeBehaviour[] = [];
  let defaultBehaviour: FakeBehaviour = INITIAL_DEFAULT;

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // Multipart or plain bodies stay as text.
      }
      const path = (request.url ?? '/').split('?')[0]!;
      requests.push({ method: request.method ?? 'GET', path, headers: flattenHeaders(request.headers), body, receivedAt: Date.now() });
      const wire = wireOf(path);
      if (!wire || request.method !== 'POST') {
        sendJson(response, 404, { error: { message: `The fake provider does not serve ${request.method} ${path}.` } });
        return;
      }
      const behaviour = queue.shift() ?? defaultBehaviour;
      const context = requestContext(wire, path, body);
      void respond(behaviour, context, response, () => defaultBehaviour).catch((error: unknown) => {
        if (!response.headersSent) sendJson(response, 500, { error: { message: String(error) } });
        else response.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/v1`;

  return {
    url: base,
    anthropicUrl: base,
    requests,
    enqueue(behaviour, times = 1) {
      for (let count = 0; count < times; count += 1) queue.push(behaviour);
    },
    setDefault(behaviour) {
      defaultBehaviour = behaviour;
    },
    reset() {
      queue = [];
      requests.length = 0;
      defaultBehaviour = INITIAL_DEFAULT;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value ?? '']));
}

function wireOf(path: string): FakeRequestContext['wire'] | undefined {
  if (path.endsWith('/chat/completions')) return 'openai';
  if (path.endsWith('/messages')) return 'anthropic';
  if (/\/(images\/generations|audio\/speech|audio\/transcriptions)$/.test(path)) return 'media';
  return undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part: any) => (typeof part?.text === 'string' ? part.text : part?.type === 'tool_use' ? JSON.stringify(part.input) : part?.type === 'tool_result' ? contentText(part.content) : '')).join('');
  }
  return '';
}

function requestContext(wire: FakeRequestContext['wire'], path: string, body: any): FakeRequestContext {
  const texts: { role: string; text: string }[] = [];
  if (wire === 'anthropic' && body?.system) texts.push({ role: 'system', text: contentText(body.system) });
  for (const message of body?.messages ?? []) texts.push({ role: message.role === 'developer' ? 'system' : message.role, text: contentText(message.content) });
  if (wire === 'media' && typeof body?.prompt === 'string') texts.push({ role: 'user', text: body.prompt });
  if (wire === 'media' && typeof body?.input === 'string') texts.push({ role: 'user', text: body.input });
  const named = texts.filter((entry) => entry.role === 'system').map((entry) => /Artifact type: ([a-z]+)/.exec(entry.text)?.[1]).find(Boolean);
  const artifactType = named && named in FAMILIES ? (named as ArtifactType) : undefined;
  return { wire, path, body, texts, ...(artifactType ? { artifactType } : {}) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function respond(
  behaviour: FakeBehaviour,
  context: FakeRequestContext,
  response: http.ServerResponse,
  currentDefault: () => FakeBehaviour,
): Promise<void> {
  if ('hang' in behaviour) {
    // Hold the response open; the client's abort closes the socket.
    await new Promise<void>((resolve) => response.on('close', resolve));
    return;
  }
  if ('delayMs' in behaviour) {
    await sleep(behaviour.delayMs);
    if (response.destroyed) return;
    return respond(behaviour.then ?? currentDefault(), context, response, currentDefault);
  }
  if ('status' in behaviour) {
    const body = behaviour.body ?? (context.wire === 'anthropic'
      ? { type: 'error', error: { type: behaviour.status === 429 ? 'rate_limit_error' : 'api_error', message: `Fake status ${behaviour.status}` } }
      : { error: { message: `Fake status ${behaviour.status}`, type: behaviour.status === 429 ? 'rate_limit_error' : 'server_error', code: null } });
    sendJson(response, behaviour.status, body, behaviour.headers);
    return;
  }
  if ('bytes' in behaviour) {
    if (context.wire === 'media') return respondMedia(context, '', response, behaviour);
    return respond({ reply: behaviour.bytes.toString('utf8') }, context, response, currentDefault);
  }
  const usage = behaviour.usage ?? DEFAULT_USAGE;
  const text = 'artifact' in behaviour ? artifactReply(context, behaviour.fault) : replyText(behaviour.reply, context);
  const chunks = 'chunks' in behaviour && behaviour.chunks ? behaviour.chunks : 4;
  const chunkDelayMs = 'chunkDelayMs' in behaviour && behaviour.chunkDelayMs !== undefined ? behaviour.chunkDelayMs : 5;
  if (context.wire === 'media') return respondMedia(context, text, response);
  if (context.body?.stream === true) {
    const pieces = splitText(text, chunks);
    if (context.wire === 'openai') await streamOpenAI(response, context, pieces, usage, chunkDelayMs);
    else await streamAnthropic(response, context, pieces, usage, chunkDelayMs);
    return;
  }
  if (context.wire === 'openai') sendJson(response, 200, openAICompletion(context, text, usage));
  else sendJson(response, 200, anthropicMessage(context, text, usage));
}

function replyText(reply: string | object | ((request: FakeRequestContext) => string | object), context: FakeRequestContext): string {
  const value = typeof reply === 'function' ? reply(context) : reply;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function artifactReply(context: FakeRequestContext, fault: ArtifactFault | undefined): string {
  if (!context.artifactType) {
    const lastUser = [...context.texts].reverse().find((entry) => entry.role === 'user')?.text ?? '';
    return context.wire === 'media' ? lastUser || 'fake transcript' : `Fake reply to: ${lastUser}`;
  }
  const family = FAMILIES[context.artifactType];
  const artifact = { name: `Fake ${family.type}`, description: `A ${family.type} from the fake provider.`, data: structuredClone(family.example) as Record<string, unknown> };
  return spoil(artifact, family, fault);
}

/** The family's optional top-level fields: the ones a model may answer with null. */
function optionalFields(family: FamilyDefinition): string[] {
  return Object.entries(family.data.shape).filter(([, schema]) => (schema as { safeParse(value: unknown): { success: boolean } }).safeParse(undefined).success).map(([key]) => key);
}

function spoil(artifact: { name: string; description: string; data: Record<string, unknown> }, family: FamilyDefinition, fault: ArtifactFault | undefined): string {
  const json = JSON.stringify(artifact, null, 2);
  switch (fault) {
    case undefined:
      return json;
    case 'fenced':
      return `\`\`\`json\n${json}\n\`\`\``;
    case 'prose':
      return `Here is the ${family.type} you asked for:\n\n${json}\n\nLet me know if you want any changes.`;
    case 'truncated': {
      // Cut inside the description (a free-text string, so any cut leaves a valid prefix), leaving `data` intact.
      const compact = JSON.stringify({ name: artifact.name, data: artifact.data, description: `${artifact.description} It goes on at length about many things` });
      return compact.slice(0, compact.length - 12);
    }
    case 'extra_keys':
      return JSON.stringify({ ...artifact, confidence: 0.9, data: { ...artifact.data, internal_notes: 'not in the schema' } });
    case 'null_optional': {
      const data: Record<string, unknown> = { ...artifact.data };
      for (const key of optionalFields(family)) if (!(key in data)) data[key] = null;
      return JSON.stringify({ ...artifact, data });
    }
  }
}

function splitText(text: string, pieces: number): string[] {
  if (text.length === 0) return [''];
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, pieces)));
  const parts: string[] = [];
  for (let start = 0; start < text.length; start += size) parts.push(text.slice(start, start + size));
  return parts;
}

function sendJson(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

const completionId = () => `chatcmpl-fake-${Math.random().toString(36).slice(2, 10)}`;
const created = () => Math.floor(Date.now() / 1000);

function openAICompletion(context: FakeRequestContext, text: string, usage: FakeUsage) {
  return {
    id: completionId(),
    object: 'chat.completion',
    created: created(),
    model: context.body?.model ?? 'fake-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
  };
}

async function streamOpenAI(response: http.ServerResponse, context: FakeRequestContext, pieces: string[], usage: FakeUsage, delayMs: number) {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const id = completionId();
  const base = { id, object: 'chat.completion.chunk', created: created(), model: context.body?.model ?? 'fake-model' };
  const send = (payload: unknown) => response.write(`data: ${JSON.stringify(payload)}\n\n`);
  send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  for (const piece of pieces) {
    if (response.destroyed) return;
    send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    await sleep(delayMs);
  }
  send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  send({ ...base, choices: [], usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output } });
  response.end('data: [DONE]\n\n');
}

/** Anthropic answers a forced `json` tool (the SDK's JSON mode on older models) with a tool_use block. */
function anthropicJsonTool(context: FakeRequestContext): string | undefined {
  const tool = (context.body?.tools ?? []).find((candidate: any) => candidate?.name === 'json');
  return tool ? tool.name : undefined;
}

function anthropicContent(context: FakeRequestContext, text: string): { blocks: any[]; stopReason: string } {
  const toolName = anthropicJsonTool(context);
  if (toolName) {
    try {
      const input = JSON.parse(text);
      return { blocks: [{ type: 'tool_use', id: `toolu_fake_${Math.random().toString(36).slice(2, 10)}`, name: toolName, input }], stopReason: 'tool_use' };
    } catch {
      // Text that is not JSON cannot be a tool input: answer it as text, like a model ignoring the tool.
    }
  }
  return { blocks: [{ type: 'text', text }], stopReason: 'end_turn' };
}

function anthropicMessage(context: FakeRequestContext, text: string, usage: FakeUsage) {
  const { blocks, stopReason } = anthropicContent(context, text);
  return {
    id: `msg_fake_${Math.random().toString(36).slice(2, 10)}`,
    type: 'message',
    role: 'assistant',
    model: context.body?.model ?? 'fake-model',
    content: blocks,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: usage.input, output_tokens: usage.output },
  };
}

async function streamAnthropic(response: http.ServerResponse, context: FakeRequestContext, pieces: string[], usage: FakeUsage, delayMs: number) {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: string, payload: unknown) => response.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
  const { blocks, stopReason } = anthropicContent(context, pieces.join(''));
  const toolBlock = blocks[0]?.type === 'tool_use' ? blocks[0] : undefined;
  send('message_start', {
    type: 'message_start',
    message: {
      id: `msg_fake_${Math.random().toString(36).slice(2, 10)}`, type: 'message', role: 'assistant', model: context.body?.model ?? 'fake-model',
      content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 },
    },
  });
  send('content_block_start', { type: 'content_block_start', index: 0, content_block: toolBlock ? { type: 'tool_use', id: toolBlock.id, name: toolBlock.name, input: {} } : { type: 'text', text: '' } });
  for (const piece of pieces) {
    if (response.destroyed) return;
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: toolBlock ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece } });
    await sleep(delayMs);
  }
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } });
  send('message_stop', { type: 'message_stop' });
  response.end();
}

// The smallest valid PNG (1x1, transparent) and a 0.01 s silent 16-bit mono WAV.
const ONE_PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

function silentWav(samples = 160, sampleRate = 16000): Buffer {
  return encodeWav(new Int16Array(samples), sampleRate);
}

/** The 1x1 PNG every image request gets, and the WAV every speech request gets, unless told otherwise with `{ bytes }`. */
export const FAKE_IMAGE_PNG = ONE_PIXEL_PNG;
export const FAKE_SPEECH_WAV = silentWav();

function respondMedia(context: FakeRequestContext, text: string, response: http.ServerResponse, given?: { bytes: Buffer; contentType?: string }): void {
  if (context.path.endsWith('/images/generations')) {
    const count = Number(context.body?.n ?? 1) || 1;
    const image = given?.bytes ?? ONE_PIXEL_PNG;
    sendJson(response, 200, { created: created(), data: Array.from({ length: count }, () => ({ b64_json: image.toString('base64') })), usage: { input_tokens: 10, output_tokens: 0, total_tokens: 10 } });
    return;
  }
  if (context.path.endsWith('/audio/speech')) {
    const audio = given?.bytes ?? FAKE_SPEECH_WAV;
    response.writeHead(200, { 'content-type': given ? given.contentType ?? 'application/octet-stream' : 'audio/wav', 'content-length': String(audio.length) });
    response.end(audio);
    return;
  }
  if (given) text = given.bytes.toString('utf8');
  sendJson(response, 200, { text, language: 'english', duration: 0.5, segments: [] });
}
