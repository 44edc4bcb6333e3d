import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** The CLI's view of a Glow server: JSON calls, raw responses (SSE, downloads) and clear errors. */

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** A non-2xx answer, carrying the server's own `error.message` and `error.code`. */
export class ApiError extends CliError {
  constructor(readonly status: number, readonly code: string, readonly serverMessage: string, readonly details?: unknown) {
    super(`${serverMessage} (${code}, HTTP ${status})`);
  }
}

export interface ClientOptions {
  instanceUrl: string;
  token?: string;
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Failures to open a connection at all: nothing is listening, or the host cannot be found or reached. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const NETWORK_CODES = new Set([...UNREACHABLE_CODES, 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** The errno-style code behind a failed fetch (`fetch failed` hides it in `cause`). */
export function networkErrorCode(error: unknown): string | undefined {
  let current: any = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (typeof current.code === 'string' && NETWORK_CODES.has(current.code)) return current.code;
    if (Array.isArray(current.errors)) {
      const inner = current.errors.map(networkErrorCode).find(Boolean);
      if (inner) return inner;
    }
    current = current.cause;
  }
  return undefined;
}

export class GlowClient {
  readonly instanceUrl: string;
  readonly token?: string;

  constructor(options: ClientOptions) {
    this.instanceUrl = options.instanceUrl.replace(/\/+$/, '');
    this.token = options.token;
  }

  url(path: string): string {
    return `${this.instanceUrl}${path}`;
  }

  /** Sends a request; answers the Response whatever its status. Network failures become a CliError that says what to do. */
  async send(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const isStream = body instanceof ReadableStream;
    try {
      return await fetch(this.url(path), {
        method: options.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        signal: options.signal,
        ...(isStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      throw this.explainNetworkError(error);
    }
  }

  explainNetworkError(error: unknown): Error {
    if ((error as Error)?.name === 'AbortError') return error as Error;
    const code = networkErrorCode(error);
    if (code && UNREACHABLE_CODES.has(code)) {
      return new CliError(`cannot reach ${this.instanceUrl} (${code}) — is \`npm start\` running? Set GLOW_INSTANCE_URL or --instance-url to point elsewhere.`);
    }
    const cause = (error as any)?.cause?.message;
    return new CliError(`request to ${this.instanceUrl} failed: ${(error as Error)?.message ?? error}${cause ? ` (${cause})` : ''}`);
  }

  /**
   * POSTs a streamed body through node:http rather than fetch. A server that refuses an upload
   * early (415, 413, 422) answers and closes the connection while the body is still going out;
   * fetch then reports only the broken pipe, node:http still delivers the answer.
   */
  sendStreaming(path: string, body: Readable, headers: Record<string, string>): Promise<Response> {
    const url = new URL(this.url(path));
    const allHeaders = { ...headers, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
    const outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers: allHeaders });
    return new Promise((resolve, reject) => {
      let answered = false;
      outgoing.on('response', (incoming) => {
        answered = true;
        body.unpipe(outgoing);
        body.destroy();
        const responseHeaders = new Headers();
        for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
          responseHeaders.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!);
        }
        const status = incoming.statusCode ?? 502;
        const hasBody = status !== 204 && status !== 304;
        if (!hasBody) incoming.resume();
        resolve(new Response(hasBody ? (Readable.toWeb(incoming) as ReadableStream<Uint8Array>) : null, { status, headers: responseHeaders }));
      });
      outgoing.on('error', (error) => {
        if (!answered) reject(this.explainNetworkError(error));
      });
      body.on('error', (error) => outgoing.destroy(error));
      body.pipe(outgoing);
    });
  }

  /** Throws the server's error for a non-2xx response; returns it untouched otherwise. */
  async ensureOk(response: Response): Promise<Response> {
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let code = `http_${response.status}`;
    let message = text.trim() || response.statusText || 'request failed';
    let details: unknown;
    try {
      const parsed = JSON.parse(text);
      if (parsed?.error?.message) {
        message = parsed.error.message;
        code = parsed.error.code ?? code;
        details = parsed.error.details;
      }
    } catch {
      // Not JSON: keep the raw text as the message.
    }
    if (response.status === 401) message += this.token ? ` The token given (GLOW_TOKEN or --token) was refused by ${this.instanceUrl}: mistyped, revoked, or another server's.` : ' No token was sent: set GLOW_TOKEN or pass --token.';
    throw new ApiError(response.status, code, message, details);
  }

  /** `POST <path>` with a JSON body; answers the parsed JSON result. */
  async call<T = any>(path: string, body: unknown = {}): Promise<T> {
    const response = await this.ensureOk(await this.send(path, { method: 'POST', json: body }));
    return this.json<T>(response, `POST ${path}`);
  }

  /** The JSON of a successful response (undefined when empty); anything else is a one-line CliError. */
  async json<T = any>(response: Response, request: string): Promise<T> {
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      const type = response.headers.get('content-type');
      const start = text.trim().slice(0, 60).replace(/\s+/g, ' ');
      throw new CliError(
        `the server at ${this.instanceUrl} did not answer JSON to ${request} (HTTP ${response.status}${type ? `, ${type}` : ''}, starting ${JSON.stringify(start)}): is GLOW_INSTANCE_URL (or --instance-url) the address of a Glow server?`,
      );
    }
  }
}
