import type { Readable } from 'node:stream';
import { MIMEType } from 'node:util';
import type { FastifyInstance } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import type { Operation } from '../http/operations.ts';

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
