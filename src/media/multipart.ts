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
