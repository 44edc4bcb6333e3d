import type { Readable } from 'node:stream';
import { MIMEType } from 'node:util';
import type { FastifyInstance } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { AppError } from '../http/errors.ts';
import type { Operation } from '../http/operations.ts';
import { LENIENT_JSON_TYPES, assertUncodedBody, readJsonBody } from '../http/server.ts';

/** Upload operations are the ones that describe multipart parts. */
export const isUploadOperation = (operation: Operation): boolean => operation.multipart !== undefined;

/**
 * Multipart parsing for one encapsulated scope (register the upload operations inside it), so JSON
 * operations still answer 415 to a form body. The size limit is enforced while streaming to
 * storage (413 the moment it is crossed); busboy's own limit sits one byte above so it never
 * truncates a file first.
 */
export async function enableMultipart(scope: FastifyInstance, maxUploadBytes: number): Promise<void> {
  await scope.register(fastifyMultipart, {
    throwFileSizeLimit: false,
    limits: { fileSize: maxUploadBytes + 1, fieldSize: 64 * 1024, fields: 10, parts: 20, headerPairs: 50 },
  });
  // A form-encoded body that is not JSON (`curl -d 'file=...'`) is an upload sent the wrong way:
  // the wrong media type (415), not broken JSON (400). One that is JSON still promotes an audio upload.
  scope.removeContentTypeParser(LENIENT_JSON_TYPES);
  scope.addContentTypeParser(LENIENT_JSON_TYPES, { parseAs: 'string' }, (request, body, done) => {
    try {
      assertUncodedBody(request.headers);
      done(null, readJsonBody(body as string));
    } catch (error) {
      const notJson = error instanceof AppError && error.code === 'invalid_json';
      done(notJson ? new AppError(415, 'unsupported_media_type', `A ${request.headers['content-type']?.split(';')[0]} body is not an upload: send the file as multipart/form-data with the bytes in the part named file.`) : (error as Error), undefined);
    }
  });
}

/**
 * Watches a multipart body for its close delimiter (`--boundary--`, RFC 2046 5.1.1): the parser
 * takes a body that stops before it as complete, silently dropping the part it cut. Attach it
 * in the same tick the body starts flowing into the parser, so it sees every chunk; the answer
 * is read once the body ended.
 */
export function watchCloseDelimiter(body: Readable, contentType: string): { seen(): boolean; stop(): void } {
  const delimiter = Buffer.from(`--${new MIMEType(contentType).params.get('boundary') ?? ''}--`);
  let seen = false;
  const keep = delimiter.length - 1;
  let tail = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    // The delimiter may straddle two chunks: the end of the last one is kept to look across.
    const across = Buffer.concat([tail, chunk.subarray(0, keep)]);
    if (across.includes(delimiter) || chunk.includes(delimiter)) {
      seen = true;
      body.off('data', onData);
      return;
    }
    tail = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : across.subarray(Math.max(0, across.length - keep));
  };
  body.on('data', onData);
  return { seen: () => seen, stop: () => body.off('data', onData) };
}
