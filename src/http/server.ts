import http from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError, assertStorableText, type ErrorBody } from './errors.ts';
import { settleUnreadBody } from './unread-body.ts';

/** A JSON escape of a NUL character or of a surrogate. */
const MAY_HOLD_UNSTORABLE_TEXT = /\\u(0000|d[89a-f])/i;

function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** Fastify's own failures (bad JSON, wrong content type, body too large) in the contract's error shape. */
function fastifyErrorCode(status: number): string {
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 404) return 'not_found';
  return 'invalid_request';
}

/** Fastify's own refusals in a sentence that says what to send instead. */
function fastifyErrorMessage(error: { code?: string; message: string }, request: FastifyRequest, bodyLimit: number): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const sent = request.headers['content-type']?.split(';')[0]?.trim();
    return `This route reads a JSON body: send it as Content-Type: application/json${sent ? `, not ${sent}` : ''}.`;
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return `The request body is larger than the ${(bodyLimit / 1024 / 1024).toFixed(0)} MiB a JSON body may be (files go through the upload routes).`;
  }
  return error.message;
}

/** What a connection-level failure answers: status, contract error code and sentence, and a label for the log. */
function clientErrorAnswer(code: string | undefined): { status: number; code: string; message: string; label: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'The request was not received in full in time.', label: 'timeout' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: 'The request headers exceed the allowed size.', label: 'header_overflow' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'payload_too_large', message: 'The chunk extensions of the request body exceed the allowed size.', label: 'chunk_extensions_overflow' };
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, code: 'invalid_request', message: 'The connection ended before the whole request arrived (its headers, or as much body as it announced).', label: 'truncated' };
    default:
      return { status: 400, code: 'invalid_request', message: 'The request is not valid HTTP.', label: 'error' };
  }
}

/**
 * Errors Node reports on the connection ('clientError': unparsable request, truncated body, header
 * overflow, request timeout) in the contract's error shape. Fastify's default handler, with our body:
 * nothing to do once the socket is gone; otherwise a raw response, then the connection is closed.
 */
function handleClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = clientErrorAnswer(error.code);
  this.log.trace({ err: error }, `client ${answer.label}`);
  // As Node's own default: never write into a response already under way on this socket.
  const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(errorBody(answer.code, answer.message));
    socket.write(
      `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Requests that sent `Expect: 100-continue` and have not yet been told to go on, with their responses. */
const awaitingContinue = new WeakMap<http.IncomingMessage, http.ServerResponse>();

/**
 * Tells a client that sent a form with `Expect: 100-continue` to send its body. Every operation
 * calls it once the caller is accepted: a refused upload is answered before a byte of its body is sent.
 */
export function continueRequest(request: http.IncomingMessage): void {
  const response = awaitingContinue.get(request);
  if (!response) return;
  awaitingContinue.delete(request);
  response.writeContinue();
}

/**
 * A body sent compressed (`Content-Encoding: gzip`) would be read as the compressed bytes: JSON
 * that fails to parse, or an upload stored still compressed. No coding is decoded, so it is 415
 * (RFC 9110 15.5.16), naming the coding.
 */
export function assertUncodedBody(headers: http.IncomingHttpHeaders): void {
  const coding = headers['content-encoding']?.trim().toLowerCase();
  if (coding && coding !== 'identity') {
    throw new AppError(415, 'unsupported_media_type', `Request bodies are taken as sent, not decoded: send this one without Content-Encoding (${coding.slice(0, 40)}).`);
  }
}

/** Content types whose body is read as JSON too: what `curl -d` sends when not told otherwise. */
export const LENIENT_JSON_TYPES = ['application/x-www-form-urlencoded', 'text/plain'];

const parseJson = (body: string) => (body.trim() === '' ? {} : secureJson.parse(body, undefined, { protoAction: 'remove', constructorAction: 'remove' }));

/** A request body read as JSON: an empty one is `{}`; not JSON, `null`, or text PostgreSQL cannot store is 400. */
export function readJsonBody(body: string): unknown {
  let parsed: unknown;
  try {
    parsed = parseJson(body);
  } catch {
    throw new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
  // `null` would otherwise read as "no body"; every operation takes an object.
  if (parsed === null) throw new AppError(400, 'invalid_json', 'The request body must be a JSON object, not null.');
  // JSON can only carry those characters escaped: most bodies are passed over by this test.
  if (MAY_HOLD_UNSTORABLE_TEXT.test(body)) assertStorableText(parsed);
  return parsed;
}

export function createHttpServer(options: { logLevel: string; bodyLimit?: number }): FastifyInstance {
  const app = Fastify({
    logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    clientErrorHandler: handleClientError,
  });

  // Node answers `Expect: 100-continue` itself, before any route has looked at the request. A form
  // (an upload, read by its handler) is held instead, so its token is checked before its body
  // travels (continueRequest); any other body is parsed before the handler, so it comes at once.
  // Only such requests pay for this: no hook runs on every request.
  app.server.on('checkContinue', (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (request.headers['content-type']?.toLowerCase().startsWith('multipart/form-data')) awaitingContinue.set(request, response);
    else response.writeContinue();
    app.server.emit('request', request, response);
  });
  // Answered without its body (refused, or no such route). Not asked for yet: the client will not
  // send it, so the connection cannot carry another request. Sent but unread: settleUnreadBody.
  const closeIfBodyUnread = async (request: FastifyRequest, reply: FastifyReply) => {
    if (awaitingContinue.delete(request.raw)) reply.header('connection', 'close');
    else await settleUnreadBody(request.raw, reply);
  };

  // An empty body is an empty object, and a JSON body sent without a JSON content type
  // (plain `curl -d '{...}'` sends form encoding) is still read as JSON.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', ...LENIENT_JSON_TYPES], { parseAs: 'string' }, (request, body, done) => {
    try {
      assertUncodedBody(request.headers);
      done(null, readJsonBody(body as string));
    } catch (error) {
      done(error as AppError, undefined);
    }
  });

  app.setErrorHandler(async (error: any, request, reply) => {
    await closeIfBodyUnread(request, reply);
    if (error instanceof AppError) {
      if (error.status >= 500) request.log.error({ err: error }, 'request failed');
      if (error.headers) reply.headers(error.headers);
      return reply.status(error.status).send(errorBody(error.code, error.message, error.details));
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send(errorBody(fastifyErrorCode(status), fastifyErrorMessage(error, request, app.initialConfig.bodyLimit ?? 0)));
    }
    if (request.raw.aborted || error.code === 'ERR_STREAM_PREMATURE_CLOSE' || error.code === 'ECONNRESET') {
      // The client went away (an upload cancelled halfway): nothing to answer and nothing broken.
      request.log.info({ code: error.code }, 'client closed the request');
      return reply;
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(errorBody('internal_error', 'The server failed to handle this request; it has been logged.'));
  });

  app.setNotFoundHandler(async (request, reply) => {
    await closeIfBodyUnread(request, reply);
    const path = request.url.split('?')[0]!;
    // A known path asked with another method (GET of a POST operation) is 405, naming the methods it
    // takes. hasRoute compares route patterns: right while every route is a fixed path, as all are.
    const allowed = ['GET', 'HEAD', 'POST'].filter((method) => method !== request.method && app.hasRoute({ method: method as 'GET' | 'HEAD' | 'POST', url: path }));
    if (allowed.length > 0) {
      return reply.status(405).header('allow', allowed.join(', ')).send(errorBody('method_not_allowed', `${path} takes ${allowed.filter((method) => method !== 'HEAD').join(' or ')}, not ${request.method}.`));
    }
    return reply.status(404).send(errorBody('not_found', `No route ${request.method} ${path}.`));
  });

  return app;
}
