import { hash } from 'node:crypto';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Multipart } from '@fastify/multipart';
import { z } from 'zod';
import { ARTIFACT_TYPES, type ArtifactType, type MediaKind } from '../artifacts/types.ts';
import { AppError, assertStorableText, badRequest, parseWith } from '../http/errors.ts';
import { defineOperation, type Operation } from '../http/operations.ts';
import { drainBody } from '../http/unread-body.ts';
import type { Actor } from '../identity/actor.ts';
import { allowlistDescription, hostedMedia } from './kinds.ts';
import { watchCloseDelimiter } from './multipart.ts';
import { etagFor, inlineDisposition, planDownload } from './http-download.ts';
import type { MediaService, StagedFile, UploadIds } from './service.ts';
import { withArticle } from '../http/wording.ts';
import { uuid } from '../ids.ts';

/**
 * Served with every stored byte: nothing a file contains may run in the API's origin (an SVG's
 * script, an uploaded HTML page), and browsers must not second-guess the stored type.
 */
export const DOWNLOAD_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  'x-content-type-options': 'nosniff',
} as const;

export const PREVIEW_CACHE_CONTROL = 'private, max-age=3600, must-revalidate';

const labelsSchema = z.strictObject({
  name: z.string().max(300).optional(),
  description: z.string().max(4000).optional(),
});

const uploadMultipart = (kind: MediaKind) => ({
  file: { description: `The bytes, with the part's Content-Type one of: ${allowlistDescription(kind)}.`, binary: true, required: true },
  name: { description: 'Optional display name of the asset (defaults to the file name).' },
  description: { description: 'Optional description of the asset.' },
});

function uploadResponse(kind: MediaKind, ids: UploadIds): Record<string, string> {
  return { upload_id: ids.uploadId, [`${kind}s_id`]: ids.wrapperId, [`${kind}_id`]: ids.uploadId };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

interface UploadForm {
  staged?: StagedFile;
  labels: z.infer<typeof labelsSchema>;
}

/**
 * Reads a multipart upload: one `file` part, streamed to temporary storage as it arrives, and the
 * optional `name`/`description` text parts before or after it. On any failure the staged bytes are
 * dropped before the error propagates.
 */
async function readUploadForm(request: FastifyRequest, kind: MediaKind, service: MediaService, beforeFile?: () => Promise<void>): Promise<UploadForm> {
  const labels: Record<string, string> = {};
  let staged: StagedFile | undefined;
  const parts = (request.parts() as AsyncIterableIterator<Multipart>)[Symbol.asyncIterator]();
  // The first call starts the body flowing into the parser; the watch is attached in the same tick.
  const first = parts.next();
  const closing = watchCloseDelimiter(request.raw, header(request, 'content-type') ?? '');
  try {
    for (let result = await first; !result.done; result = await parts.next()) {
      const part = result.value;
      if (part.type === 'field') {
        // The parser hands a part without filename= over as a text field.
        if (part.fieldname === 'file') {
          throw badRequest('The file part must carry a file: its Content-Disposition needs a filename= (curl -F "file=@path", or a File or Blob in FormData), not a plain text value.', { fields: [{ path: 'file', message: 'has no filename=' }] });
        }
        if (part.fieldname !== 'name' && part.fieldname !== 'description') {
          throw badRequest(`Unknown form field: ${part.fieldname}. An upload takes the parts file, name and description.`, { unknown_fields: [part.fieldname] });
        }
        if (Object.hasOwn(labels, part.fieldname)) {
          throw badRequest(`Send ${part.fieldname} once: the form has more than one ${part.fieldname} part.`, { fields: [{ path: part.fieldname, message: 'sent more than once' }] });
        }
        labels[part.fieldname] = String(part.value);
        assertStorableText(labels[part.fieldname], [part.fieldname]);
        continue;
      }
      if (part.fieldname !== 'file') {
        throw badRequest(`Unknown file part: ${part.fieldname}. Send the bytes in the part named file.`, { unknown_fields: [part.fieldname] });
      }
      if (staged) throw badRequest('Send one file per upload: the form has more than one file part.');
      assertStorableText(part.filename ?? '', ['file (its file name)']);
      // A body cut short inside the file part, parsed before this handler ran (it awaited the
      // token check): busboy has already destroyed the file stream, and it will never end.
      if (part.file.destroyed) throw badRequest('The multipart body is malformed: it ends inside the file part, with no closing boundary.');
      // Relayed at once: a body cut short is reported on the file stream, maybe while this awaits
      // (beforeFile, the staging file's opening), and a pipeline started after busboy destroyed
      // that stream would wait on it forever. The relay carries the failure to whoever reads it.
      const relay = new PassThrough();
      pipeline(part.file, relay, () => {});
      // The parser destroys a file part it has not handed out in full when the body ends before
      // the form does; the relay would then wait forever.
      part.file.once('close', () => {
        if (!part.file.readableEnded) relay.destroy(cutForm());
      });
      await beforeFile?.();
      staged = await service.stageFile(kind, { stream: relay, declaredType: part.mimetype, filename: part.filename });
    }
    // The parser ends the parts quietly when the body stops early, dropping what it cut.
    if (!closing.seen()) throw cutForm();
    return { staged, labels: parseWith(labelsSchema, labels) };
  } catch (error) {
    await parts.return?.(undefined);
    await staged?.blob.discard();
    throw asUploadError(error, request);
  } finally {
    closing.stop();
  }
}

/** A form whose body ended before its close delimiter, wherever the cut fell. */
function cutForm(): AppError {
  return badRequest('The multipart body is malformed: it ends before its closing boundary.');
}

/** Busboy's own complaints about a broken body are the client's fault (400), not a server fault. */
function asUploadError(error: unknown, request: FastifyRequest): unknown {
  if (error instanceof AppError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  // A client that went away (not a body read to its end without a closing boundary: that is a 400).
  if (request.raw.readableAborted) return error;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  if (error instanceof Error && /multipart|boundary|unexpected end|part terminated/i.test(error.message)) {
    return badRequest(`The multipart body is malformed: ${error.message}.`);
  }
  return error;
}

/**
 * An upload rejected part-way (415 from the part's headers, 400 for a part it does not take, 404
 * for a slot it cannot fill) leaves the rest of its body unread. Answering and closing at once
 * while the client still sends makes the client's system reset the connection, and the client may
 * lose the answer (curl's "send failure", exit 55): so the rest of the body is read and dropped
 * first, within drainBody's bounds. The connection is then closed after the answer, so a client
 * still sending a body larger than that stops.
 */
async function closeAfterRejection(request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<never> {
  const ended = await drainBody(request.raw);
  if (!ended || !(error instanceof AppError && error.status === 404)) reply.header('connection', 'close');
  throw error;
}

export function mediaOperations(service: MediaService): Operation[] {
  const operations: Operation[] = [];

  for (const artifact of ARTIFACT_TYPES) {
    const hosted = hostedMedia(artifact);
    const audited = artifact === 'system' ? 'canonical' : `audited as ${artifact}`;

    for (const kind of hosted.uploads) {
      if (artifact === 'attempt' && kind === 'audio') continue;
      operations.push(
        defineOperation({
          method: 'POST',
          path: `/${artifact}/${kind}_upload`,
          operationId: `${artifact}_${kind}_upload`,
          summary: `Upload ${withArticle(kind)} (multipart part \`file\`)`,
          description: `Streams the file to storage. Accepted types: ${allowlistDescription(kind)} (parameters such as ;codecs= are stripped). Answers {upload_id, ${kind}s_id, ${kind}_id}.`,
          tag: artifact,
          access: 'member',
          multipart: uploadMultipart(kind),
          errors: [400, 413, 415, 422],
          handler: async ({ actor, request, reply }) => {
            try {
              if (!request.isMultipart()) throw new AppError(415, 'unsupported_media_type', `Send the file as multipart/form-data with the bytes in the part named file.`);
              const form = await readUploadForm(request, kind, service);
              if (!form.staged) throw badRequest('The form has no file part: send the bytes in the part named file.');
              return uploadResponse(kind, await service.commitUpload(actor, kind, form.staged, form.labels));
            } catch (error) {
              await closeAfterRejection(request, reply, error);
            }
          },
        }),
      );
    }

    for (const kind of hosted.downloads) {
      const idField = `${kind}_id`;
      const body = z.strictObject({ [idField]: uuid() }) as z.ZodType<Record<string, string>>;
      if (kind === 'call') {
        operations.push(
          defineOperation({
            method: 'POST',
            path: `/${artifact}/call_download`,
            operationId: `${artifact}_call_download`,
            summary: `Download a generation call's JSON record (request, model output, events) (${audited})`,
            tag: artifact,
            access: 'member',
            body,
            response: 'binary',
            // Its tag changes as a live run's record grows.
            ...rangedDownloadDocs('record'),
            handler: async ({ actor, body, request, reply }) => {
              const callId = body[idField]!;
              const record = Buffer.from(JSON.stringify(await service.callRecord(actor, callId)));
              await service.recordRead(actor, artifact, 'call', { call_id: callId });
              return sendRanged(request, reply, {
                size: record.length,
                // The record is built on each request: its tag is its content's, so a live run's changes show.
                etag: etagFor(hash('sha256', record, 'hex')),
                contentType: 'application/json; charset=utf-8',
                filename: `call-${callId}.json`,
                bytes: async (range) => (range ? record.subarray(range.start, range.end + 1) : record),
              });
            },
          }),
        );
        continue;
      }
      operations.push(
        defineOperation({
          method: 'POST',
          path: `/${artifact}/${kind}_download`,
          operationId: `${artifact}_${kind}_download`,
          summary: `Download ${withArticle(kind)} upload, with Range support (${audited})`,
          description: `Body {"${idField}": upload id or ${kind}s_id}. Range (bytes=a-b, a-, -n) answers 206; an unsatisfiable range 416; If-None-Match 304; If-Range honoured.`,
          tag: artifact,
          access: 'member',
          body,
          response: 'binary',
          ...rangedDownloadDocs('upload'),
          handler: async ({ actor, body, request, reply }) => downloadUpload(service, actor, artifact, kind, body[idField]!, request, reply),
        }),
      );
    }

    if (hosted.preview) {
      operations.push(
        defineOperation({
          method: 'POST',
          path: `/${artifact}/file_preview`,
          operationId: `${artifact}_file_preview`,
          summary: `PNG of the first page of a PDF file upload (${audited})`,
          description: 'Rendered once per distinct PDF and cached. An upload that is not a PDF (of any kind: an image, a text) is 415; a PDF that cannot be rendered within 10 s or 512 MiB is 422.',
          tag: artifact,
          access: 'member',
          body: z.strictObject({ file_id: uuid() }),
          response: 'png',
          errors: [400, 404, 415, 422],
          alsoAnswers: { 304: { description: 'Not modified: If-None-Match named the preview\'s ETag' } },
          requestHeaders: { 'If-None-Match': 'ETags the client holds: 304 when one is the preview\'s.' },
          handler: async ({ actor, body, request, reply }) => {
            // Any kind the caller sees: a non-PDF is preview()'s 415, not a 404.
            const { upload } = await service.findDownloadable(actor, undefined, body.file_id);
            const preview = await service.preview(upload);
            // After the render: a refused preview (a non-PDF, 415) read nothing.
            await service.recordRead(actor, artifact, 'file_preview', { upload_id: upload.id });
            const etag = etagFor(preview.sha256);
            reply.header('etag', etag).header('cache-control', PREVIEW_CACHE_CONTROL);
            if (planDownload(preview.size, etag, { ifNoneMatch: header(request, 'if-none-match') }).status === 304) return reply.status(304).send();
            reply
              .header('content-type', 'image/png')
              .header('content-length', String(preview.size))
              .header('x-content-type-options', 'nosniff');
            return reply.send(await preview.png());
          },
        }),
      );
    }
  }

  operations.push(
    defineOperation({
      method: 'POST',
      path: '/attempt/audio/new',
      operationId: 'attempt_audio_new',
      summary: 'Reserve an audio upload id to fill later with attempt/audio_upload?upload_id=',
      tag: 'attempt',
      access: 'member',
      body: z.strictObject({}),
      response: z.strictObject({ upload_id: uuid(), audio_id: uuid(), audios_id: uuid() }),
      handler: async ({ actor }) => {
        const ids = await service.reserveAudio(actor);
        return { upload_id: ids.uploadId, audio_id: ids.uploadId, audios_id: ids.wrapperId };
      },
    }),
    defineOperation({
      method: 'POST',
      path: '/attempt/audio_upload',
      operationId: 'attempt_audio_upload',
      summary: 'Upload a learner audio reply, fill a reserved slot, or promote an existing audio upload',
      description: [
        'Three shapes. A file only: stores it. ?upload_id= with a file: fills the slot reserved by attempt/audio/new (409 when already filled).',
        '?upload_id= without a file (no body, a JSON body {name?, description?}, or a form without a file part): stacks a new audio wrapper on an existing audio upload.',
        `Accepted types: ${allowlistDescription('audio')}. Answers {audio_id, audios_id, upload_id}.`,
      ].join(' '),
      tag: 'attempt',
      access: 'member',
      query: z.strictObject({ upload_id: uuid().optional() }),
      multipart: { ...uploadMultipart('audio'), file: { ...uploadMultipart('audio').file, required: false } },
      errors: [400, 404, 409, 413, 415, 422],
      handler: async ({ actor, query, request, reply }) => {
        const uploadId = query.upload_id;
        const answer = (ids: UploadIds) => ({ audio_id: ids.uploadId, audios_id: ids.wrapperId, upload_id: ids.uploadId });
        try {
          if (!request.isMultipart()) {
            if (!uploadId) throw new AppError(415, 'unsupported_media_type', 'Send the audio as multipart/form-data in the part named file, or pass ?upload_id= to promote an existing audio upload.');
            return answer(await service.promoteAudio(actor, uploadId, parseWith(labelsSchema, request.body ?? {})));
          }
          const form = await readUploadForm(request, 'audio', service, uploadId ? async () => void (await service.assertFillable(actor, uploadId)) : undefined);
          if (!form.staged) {
            if (!uploadId) throw badRequest('The form has no file part: send the bytes in the part named file, or pass ?upload_id= to promote an existing audio upload.');
            return answer(await service.promoteAudio(actor, uploadId, form.labels));
          }
          if (uploadId) return answer(await service.fillReservedAudio(actor, uploadId, form.staged));
          return answer(await service.commitUpload(actor, 'audio', form.staged, form.labels));
        } catch (error) {
          await closeAfterRejection(request, reply, error);
        }
      },
    }),
  );
  return operations;
}

async function downloadUpload(
  service: MediaService,
  actor: Actor,
  artifact: ArtifactType,
  kind: MediaKind,
  id: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { upload, filename } = await service.findDownloadable(actor, kind, id);
  await service.recordRead(actor, artifact, kind, { upload_id: upload.id });
  return sendRanged(request, reply, {
    size: upload.size,
    etag: etagFor(upload.sha256),
    contentType: upload.mime_type,
    filename,
    bytes: (range) => service.openBytes(upload, range),
  });
}

/** What OpenAPI says of a download answered by sendRanged. */
function rangedDownloadDocs(what: 'upload' | 'record') {
  return {
    errors: [400, 404, 416],
    alsoAnswers: {
      206: { description: 'Partial content: the range asked for, with Content-Range', response: 'binary' as const },
      304: { description: `Not modified: If-None-Match named the ${what}'s current ETag` },
    },
    requestHeaders: {
      Range: `One byte range: bytes=a-b, bytes=a- or bytes=-n (206; unsatisfiable: 416). Several ranges get the whole ${what} (200).`,
      'If-Range': `The ETag the client holds: the range applies only if it is still the ${what}'s, else the whole ${what} (200). A date never matches (no Last-Modified is sent).`,
      'If-None-Match': `ETags the client holds: 304 when one is the ${what}'s.`,
    },
  };
}

/**
 * A download with the contract's HTTP semantics, whatever its bytes: ETag, If-None-Match (304),
 * one Range (206, or 416 past the end) honoured under If-Range, else the whole body.
 */
async function sendRanged(
  request: FastifyRequest,
  reply: FastifyReply,
  body: { size: number; etag: string; contentType: string; filename: string; bytes: (range?: { start: number; end: number }) => Promise<Readable | Buffer> },
): Promise<FastifyReply> {
  const { size, etag } = body;
  reply.header('etag', etag).header('accept-ranges', 'bytes').headers(DOWNLOAD_SECURITY_HEADERS);
  const plan = planDownload(size, etag, { range: header(request, 'range'), ifNoneMatch: header(request, 'if-none-match'), ifRange: header(request, 'if-range') });
  if (plan.status === 304) return reply.status(304).send();
  if (plan.status === 416) {
    throw new AppError(416, 'range_not_satisfiable', `The requested range is outside the file's ${size} bytes.`, { size }, {
      'content-range': `bytes */${size}`,
    });
  }
  reply.header('content-type', body.contentType).header('content-disposition', inlineDisposition(body.filename));
  if (plan.status === 206) {
    const { start, end } = plan.range;
    return reply
      .status(206)
      .header('content-range', `bytes ${start}-${end}/${size}`)
      .header('content-length', String(end - start + 1))
      .send(await body.bytes(plan.range));
  }
  return reply.status(200).header('content-length', String(size)).send(await body.bytes());
}
