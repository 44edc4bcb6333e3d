import type { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import mime from 'mime-types';
import type { Database, Executor } from '../db/database.ts';
import type { UploadKind } from '../db/schema-media.ts';
import type { ArtifactType, MediaKind } from '../artifacts/types.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError, conflict, notFound, payloadTooLarge, unprocessable, unsupportedMediaType } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import type { CallRecordSource } from '../module.ts';
import { BlobMissingError, BlobTooLargeError, HeadCheck, type BlobStore, type ByteRange, type StagedBlob } from './blob-store.ts';
import { allowlistDescription, bareMimeType, checkSignature, fallbackSniff, holdsBinary, isAllowed, isTextual, looksLikeText, provenType, SNIFF_BYTES, type DownloadKind } from './kinds.ts';
import { PreviewFailedError, type PreviewRenderer } from './preview-renderer.ts';
import {
  fillReservation, findPreview, findUploadByUploadOrWrapperId, findUploadsByIds, firstWrapperId, insertPreview, insertReservation, insertUpload,
  findOrInsertWrapper, insertWrapper, isStored, unreferencedBlobs, type StoredUpload, type UploadRow,
} from './upload-store.ts';
import { visibleUploadIds, type ArtifactReadRules } from './visibility.ts';

/** The largest media file the server keeps of what it produced (a provider's image or speech, a composed video). */
export const PRODUCED_MEDIA_MAX_BYTES = 1024 * 1024 * 1024;

/** What the first bytes of a staged file turned out to be: the sniffed type, and whether they read as text. */
interface SniffedHead {
  type?: string;
  text: boolean;
}
/** Temporary bytes untouched this long belong to no live upload (a slow client still writes often). */
const STALE_STAGING_MS = 60 * 60 * 1000;
/** A published blob younger than this may belong to a transaction still in flight elsewhere. */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;

export interface IncomingFile {
  stream: Readable;
  /** The part's Content-Type as the client sent it, parameters and all. */
  declaredType: string | undefined;
  filename: string | undefined;
}

/** A file read to the end and stored under a temporary name, checked and counted, not yet an upload. */
export interface StagedFile {
  blob: StagedBlob;
  mimeType: string;
  filename: string | null;
}

export interface UploadIds {
  uploadId: string;
  wrapperId: string;
}

export interface StoreUploadInput {
  orgId: string;
  /** The profile the upload belongs to (the generating run's profile for generated media). */
  profileId: string;
  kind: UploadKind;
  mimeType: string;
  bytes: Buffer | Readable;
  filename?: string;
  name?: string;
  description?: string;
  /**
   * The upload id to store under. A generating run derives it from its own id, so a run executed
   * again after its worker died finds the asset stored instead of storing it twice.
   */
  uploadId?: string;
}

export interface DownloadTarget {
  upload: StoredUpload;
  /** What Content-Disposition names it: the original file name, else one made from the id and type. */
  filename: string;
}

export interface Preview {
  size: number;
  sha256: string;
  /** The PNG's bytes, opened only when asked for (a revalidated preview is not read at all). */
  png(): Promise<Buffer | Readable>;
}

function uploadFilename(upload: StoredUpload): string {
  if (upload.filename) return upload.filename;
  const extension = mime.extension(upload.mime_type);
  return extension ? `${upload.kind}-${upload.id}.${extension}` : `${upload.kind}-${upload.id}`;
}

/** The longest file name kept, in characters (code points). */
const MAX_FILENAME_CHARACTERS = 255;
/** An extension longer than this is not kept whole when a long name is shortened. */
const MAX_EXTENSION_CHARACTERS = 32;

/**
 * Keeps file names printable and short; the client's path, if it sent one, is dropped. Browsers and
 * curl send `"`, CR and LF in a multipart filename= as %22, %0D and %0A (WHATWG): exactly those are
 * decoded, so the name is stored as the user's file was named (CR/LF then dropped as unprintable).
 * A name over the limit keeps its extension: the stem is shortened.
 */
function cleanFilename(filename: string | undefined): string | null {
  if (!filename) return null;
  const decoded = filename.replace(/%22|%0D|%0A/g, (escaped) => ({ '%22': '"', '%0D': '\r', '%0A': '\n' })[escaped]!);
  const base = decoded.split(/[\\/]/).pop() ?? '';
  const printable = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const shortened = shortenFilename(printable);
  return shortened.length > 0 ? shortened : null;
}

function shortenFilename(name: string): string {
  const characters = Array.from(name);
  if (characters.length <= MAX_FILENAME_CHARACTERS) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  if (extension.length < 2 || extension.length > MAX_EXTENSION_CHARACTERS) return characters.slice(0, MAX_FILENAME_CHARACTERS).join('').trimEnd();
  const stem = Array.from(name.slice(0, dot)).slice(0, MAX_FILENAME_CHARACTERS - extension.length).join('').trimEnd();
  return `${stem}${extension.join('')}`;
}

export class MediaService {
  private readonly rendering = new Map<string, Promise<Preview>>();

  constructor(
    private readonly database: Database,
    readonly store: BlobStore,
    private readonly readRules: ArtifactReadRules,
    private readonly callRecords: CallRecordSource,
    private readonly renderer: PreviewRenderer,
    private readonly maxUploadBytes: number,
  ) {}

  /** The bare type if `kind` accepts it; 415 otherwise, before any byte is read. */
  acceptedType(kind: MediaKind, declaredType: string | undefined): string {
    const bare = bareMimeType(declaredType);
    if (!bare) throw unsupportedMediaType(`The file part has no Content-Type; ${kind} uploads accept ${allowlistDescription(kind)}.`);
    if (!isAllowed(kind, bare)) {
      if (kind === 'file') throw unsupportedMediaType(`${bare} is not a media type (type/subtype, such as application/pdf); file uploads accept any valid one.`);
      const untyped = bare === 'text/plain' ? ' (a form part sent without a Content-Type counts as text/plain)' : '';
      throw unsupportedMediaType(`${bare} is not accepted for ${kind} uploads${untyped}; send one of ${allowlistDescription(kind)}.`);
    }
    return bare;
  }

  /**
   * Streams a file to temporary storage while hashing it: 415 for a type off the kind's list (no
   * byte written), 422 when its first bytes contradict the declared type (no byte written), 413 as
   * soon as it crosses the size limit (the partial bytes are dropped).
   */
  async stageFile(kind: MediaKind, file: IncomingFile): Promise<StagedFile> {
    const declared = this.acceptedType(kind, file.declaredType);
    // "Some bytes" (what a client sends when it does not know) says less than the bytes: a PDF sent so
    // is kept as application/pdf, downloads with that type and has a preview. On the catch-all file
    // route text/plain is the same: it is what a form part without a Content-Type counts as
    // (RFC 7578), and clients such as Python's requests send files that way.
    const undeclared = declared === 'application/octet-stream' || (kind === 'file' && declared === 'text/plain');
    const head: SniffedHead = { text: false };
    // A default type is not held against the bytes: what they prove replaces it, else it stays.
    const blob = await this.stageBytes(declared, file.stream, { head, lenient: undeclared, kind, maxBytes: this.maxUploadBytes });
    const found = undeclared ? provenType(declared, head.type, head.text) : undefined;
    const mimeType = found && isAllowed(kind, found) ? found : declared;
    return { blob, mimeType, filename: cleanFilename(file.filename) };
  }

  /**
   * Stages the bytes once their head agrees with `mimeType` (see checkSignature), up to `maxBytes`;
   * `head` is told what the head was. `lenient`: a type the client chose by default, whose text
   * check is provenType's to settle rather than a refusal.
   */
  private async stageBytes(
    mimeType: string,
    bytes: Buffer | Readable,
    { head = { text: false }, lenient = false, kind, maxBytes }: { head?: SniffedHead; lenient?: boolean; kind?: MediaKind; maxBytes: number },
  ): Promise<StagedBlob> {
    const signatureCheck = new HeadCheck(SNIFF_BYTES, async (bytesAtHead) => {
      const sniffed = await fileTypeFromBuffer(bytesAtHead);
      // file-type names some types with parameters or capitals (audio/ogg; codecs=opus, video/MP1S).
      head.type = sniffed ? bareMimeType(sniffed.mime) : fallbackSniff(bytesAtHead);
      head.text = looksLikeText(bytesAtHead);
      if (lenient) return;
      const mismatch = (reason: string) => unprocessable(`The file does not match its declared type: ${reason}.`, { declared: mimeType, detected: head.type ?? null });
      const verdict = checkSignature(mimeType, head.type, head.text);
      if (!verdict.ok) throw mismatch(verdict.reason);
      // A text upload (or an SVG) holds text. Only NUL bytes (without a UTF-16 byte order mark) say it
      // does not: a CSV saved by Excel in Windows-1252 is not UTF-8, and is still text.
      if ((kind === 'text' || kind === 'image') && isTextual(mimeType) && holdsBinary(bytesAtHead)) throw mismatch(`the bytes are not text (${mimeType}): they hold NUL bytes`);
      // The video allowlist is video/*: a subtype with no signature of its own still needs a video's bytes.
      if (kind === 'video' && head.type === undefined) throw mismatch(`the bytes have no recognisable video signature (${mimeType})`);
    });
    try {
      return await this.store.stage(bytes, { maxBytes, before: [signatureCheck] });
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw payloadTooLarge(`The file is larger than the upload limit of ${maxBytes} bytes.`);
      throw error;
    }
  }

  /** Makes a staged file an upload: row, wrapper and published bytes together, or none of them. */
  async commitUpload(actor: Actor, kind: MediaKind, staged: StagedFile, labels: { name?: string; description?: string }): Promise<UploadIds> {
    return this.publishWith(staged.blob, async (executor) => {
      const upload = await insertUpload(executor, {
        orgId: actor.orgId,
        profileId: actor.profileId,
        kind,
        mimeType: staged.mimeType,
        size: staged.blob.size,
        sha256: staged.blob.sha256,
        filename: staged.filename,
      });
      const wrapperId = await insertWrapper(executor, { uploadId: upload.id, orgId: actor.orgId, kind, name: labels.name ?? staged.filename ?? '', description: labels.description ?? '' });
      return { uploadId: upload.id, wrapperId };
    });
  }

  /**
   * Inserts the rows and publishes the bytes in one transaction: the bytes become visible just
   * before the commit, so a failure before it leaves neither. A crash between the two leaves an
   * unreferenced blob, which sweepOrphanBlobs removes.
   */
  private async publishWith<T>(blob: StagedBlob, write: (executor: Executor) => Promise<T>): Promise<T> {
    try {
      return await this.database.db.transaction().execute(async (transaction) => {
        const result = await write(transaction);
        await blob.publish();
        return result;
      });
    } finally {
      await blob.discard();
    }
  }

  /** attempt/audio/new: an upload id with no bytes yet, and its audio wrapper. */
  async reserveAudio(actor: Actor): Promise<UploadIds> {
    return this.database.db.transaction().execute(async (transaction) => {
      const reservation = await insertReservation(transaction, { orgId: actor.orgId, profileId: actor.profileId, kind: 'audio' });
      const wrapperId = await insertWrapper(transaction, { uploadId: reservation.id, orgId: actor.orgId, kind: 'audio', name: '', description: '' });
      return { uploadId: reservation.id, wrapperId };
    });
  }

  /**
   * The upload id of the reserved audio slot `id` (an upload or wrapper id) if the actor may fill
   * it: 404 unknown/invisible/not audio, 409 already filled.
   */
  async assertFillable(actor: Actor, id: string): Promise<string> {
    const upload = await this.findVisible(actor, id);
    if (!upload || upload.kind !== 'audio') throw notFound('audio upload', id);
    if (upload.state !== 'reserved') throw conflict(`Audio upload ${upload.id} is already filled; reserve a new one with attempt/audio/new.`);
    return upload.id;
  }

  /** Fills a reserved audio slot with staged bytes; 409 when another request filled it first. */
  async fillReservedAudio(actor: Actor, id: string, staged: StagedFile): Promise<UploadIds> {
    let uploadId: string;
    try {
      // Checked again: another request may have filled the slot while this one's bytes arrived.
      uploadId = await this.assertFillable(actor, id);
    } catch (error) {
      await staged.blob.discard();
      throw error;
    }
    return this.publishWith(staged.blob, async (executor) => {
      const filled = await fillReservation(executor, uploadId, { mimeType: staged.mimeType, size: staged.blob.size, sha256: staged.blob.sha256, filename: staged.filename });
      if (!filled) throw conflict(`Audio upload ${uploadId} is already filled; reserve a new one with attempt/audio/new.`);
      const wrapperId = (await firstWrapperId(executor, uploadId)) ?? (await insertWrapper(executor, { uploadId, orgId: actor.orgId, kind: 'audio', name: staged.filename ?? '', description: '' }));
      return { uploadId, wrapperId };
    });
  }

  /** Stacks an audio wrapper on an existing audio upload (one the realtime adapter captured, say); the same labels again give the same wrapper. */
  async promoteAudio(actor: Actor, id: string, labels: { name?: string; description?: string }): Promise<UploadIds> {
    const upload = await this.findVisible(actor, id);
    if (!upload || upload.kind !== 'audio') throw notFound('audio upload', id);
    if (!isStored(upload)) throw conflict(`Audio upload ${upload.id} is reserved but has no bytes yet; send the file with this request to fill it.`);
    const wrapper = { uploadId: upload.id, orgId: actor.orgId, kind: 'audio' as const, name: labels.name ?? upload.filename ?? '', description: labels.description ?? '' };
    const wrapperId = await this.database.db.transaction().execute((trx) => findOrInsertWrapper(trx, wrapper));
    return { uploadId: upload.id, wrapperId };
  }

  /**
   * Stores bytes the server produced (generated images, synthesized speech) as an upload of
   * `profileId`, with a wrapper, checked against the kind's allowlist and signature like any upload.
   * GLOW_MAX_UPLOAD_BYTES bounds what clients send, not what the server makes: a spoken reply
   * (uncompressed WAV offline, ~48 KB a second) must not fail because learners' uploads are kept
   * small. They are bounded by PRODUCED_MEDIA_MAX_BYTES instead, and are already in memory.
   */
  async storeUpload(input: StoreUploadInput): Promise<UploadIds> {
    const mimeType = this.acceptedType(input.kind, input.mimeType);
    const blob = await this.stageBytes(mimeType, input.bytes, { maxBytes: PRODUCED_MEDIA_MAX_BYTES });
    const filename = cleanFilename(input.filename);
    try {
      return await this.publishWith(blob, (executor) => this.insertStoredUpload(executor, input, { mimeType, filename, size: blob.size, sha256: blob.sha256 }));
    } catch (error) {
      // Another worker executing the same run stored this very asset first: it is the same upload.
      if (input.uploadId && (error as { code?: string }).code === '23505') {
        const existing = await this.findStoredUpload(input.orgId, input.uploadId);
        const wrapperId = existing ? await firstWrapperId(this.database.db, existing.id) : undefined;
        if (existing && wrapperId) return { uploadId: existing.id, wrapperId };
      }
      throw error;
    }
  }

  /** A stored upload of the org by its upload id or its wrapper's (`audios_id`), no visibility check: for a run's work on what its trigger checked. */
  async findStoredUploadByAnyId(orgId: string, id: string): Promise<StoredUpload | undefined> {
    const row = await findUploadByUploadOrWrapperId(this.database.db, orgId, id);
    return row && isStored(row) ? row : undefined;
  }

  /** A stored upload of the org by its upload id (no visibility check: for server-side work such as a run's own assets). */
  async findStoredUpload(orgId: string, uploadId: string): Promise<StoredUpload | undefined> {
    const [row] = await findUploadsByIds(this.database.db, orgId, [uploadId]);
    return row && isStored(row) ? row : undefined;
  }

  private async insertStoredUpload(
    executor: Executor,
    input: StoreUploadInput,
    stored: { mimeType: string; filename: string | null; size: number; sha256: string },
  ): Promise<UploadIds> {
    const upload = await insertUpload(executor, {
      ...(input.uploadId ? { id: input.uploadId } : {}),
      orgId: input.orgId,
      profileId: input.profileId,
      kind: input.kind,
      mimeType: stored.mimeType,
      size: stored.size,
      sha256: stored.sha256,
      filename: stored.filename,
    });
    const wrapperId = await insertWrapper(executor, { uploadId: upload.id, orgId: input.orgId, kind: input.kind, name: input.name ?? stored.filename ?? '', description: input.description ?? '' });
    return { uploadId: upload.id, wrapperId };
  }

  private async findVisible(actor: Actor, id: string): Promise<UploadRow | undefined> {
    const upload = await findUploadByUploadOrWrapperId(this.database.db, actor.orgId, id);
    if (!upload) return undefined;
    const visible = await visibleUploadIds(this.database.db, this.readRules, actor, [upload]);
    return visible.has(upload.id) ? upload : undefined;
  }

  /**
   * The stored upload an id (upload or wrapper id) names, if the actor may see it and it is of
   * `kind` (any kind when undefined: a preview's 415 is for what it is). Everything else is the
   * same 404, so nothing leaks about ids the caller may not see.
   */
  async findDownloadable(actor: Actor, kind: MediaKind | undefined, id: string): Promise<DownloadTarget> {
    const upload = await this.findVisible(actor, id);
    if (!upload || (kind !== undefined && upload.kind !== kind) || !isStored(upload)) throw notFound(kind ? `${kind} upload` : 'upload', id);
    return { upload, filename: uploadFilename(upload) };
  }

  openBytes(upload: StoredUpload, range?: ByteRange): Promise<Readable> {
    return this.readBlob(upload.sha256, range);
  }

  /** The store's bytes; recorded bytes it does not hold are the operator's problem to fix, told as such. */
  private async readBlob(sha256: string, range?: ByteRange): Promise<Readable> {
    try {
      return await this.store.read(sha256, range);
    } catch (error) {
      if (!(error instanceof BlobMissingError)) throw error;
      throw new AppError(
        500,
        'blob_missing',
        "The file is recorded but its bytes are not in this server's media store. Server processes that share a database must share one media store: the same GLOW_DATA_DIR on a shared filesystem, or S3 (GLOW_S3_BUCKET).",
      );
    }
  }

  async recordRead(actor: Actor, artifact: ArtifactType, kind: DownloadKind | 'file_preview', subject: { upload_id: string } | { call_id: string }): Promise<void> {
    const action = kind === 'file_preview' ? `${artifact}.file_preview` : `${artifact}.${kind}_download`;
    await recordAudit(this.database.db, actor, actor.orgId, { action, artifactType: artifact, details: subject });
  }

  async callRecord(actor: Actor, callId: string): Promise<Record<string, unknown>> {
    const record = await this.callRecords.findCallRecord(actor, callId);
    if (!record) throw notFound('call', callId);
    return record;
  }

  /** First page of a PDF as PNG, rendered once per distinct PDF and kept in blob storage. */
  async preview(upload: StoredUpload): Promise<Preview> {
    if (upload.mime_type !== 'application/pdf') {
      throw unsupportedMediaType(`Only PDFs have a preview; upload ${upload.id} is ${upload.mime_type}.`);
    }
    const cached = await this.cachedPreview(upload.sha256);
    if (cached) return cached;
    let rendering = this.rendering.get(upload.sha256);
    if (!rendering) {
      rendering = this.renderAndCache(upload).finally(() => this.rendering.delete(upload.sha256));
      this.rendering.set(upload.sha256, rendering);
    }
    return rendering;
  }

  private async cachedPreview(sourceSha256: string): Promise<Preview | undefined> {
    const row = await findPreview(this.database.db, sourceSha256);
    if (!row) return undefined;
    // The size comes from the store, not the row: Content-Length must match the bytes actually sent.
    const stored = await this.store.stat(row.png_sha256);
    if (!stored) return undefined; // the cached bytes are gone (store wiped by hand): render again
    return { png: () => this.readBlob(row.png_sha256), size: stored.size, sha256: row.png_sha256 };
  }

  private async renderAndCache(upload: StoredUpload): Promise<Preview> {
    const pdf = await readAll(await this.readBlob(upload.sha256));
    let rendered;
    try {
      rendered = await this.renderer.render(pdf);
    } catch (error) {
      if (error instanceof PreviewFailedError) throw unprocessable(error.message);
      throw error;
    }
    const blob = await this.store.stage(rendered.png);
    await this.publishWith(blob, (executor) =>
      insertPreview(executor, { source_sha256: upload.sha256, png_sha256: blob.sha256, png_size: blob.size, width: rendered.width, height: rendered.height }),
    );
    return { png: async () => rendered.png, size: rendered.png.length, sha256: blob.sha256 };
  }

  /** Start-up housekeeping: temporary bytes of interrupted uploads, blobs whose transaction never committed. */
  async sweep(options: { stagingOlderThanMs?: number; orphansOlderThanMs?: number } = {}): Promise<{ staging: number; orphans: number }> {
    const staging = await this.store.sweepStaging(options.stagingOlderThanMs ?? STALE_STAGING_MS);
    let orphans = 0;
    let batch: string[] = [];
    const flush = async () => {
      for (const sha256 of await unreferencedBlobs(this.database.db, batch)) {
        await this.store.delete(sha256);
        orphans += 1;
      }
      batch = [];
    };
    for await (const sha256 of this.store.listPublished(options.orphansOlderThanMs ?? ORPHAN_GRACE_MS)) {
      batch.push(sha256);
      if (batch.length >= 500) await flush();
    }
    await flush();
    return { staging, orphans };
  }
}

async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  // One fresh ArrayBuffer, so it can be transferred to the render worker without copying again.
  const bytes = new Uint8Array(new ArrayBuffer(length));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
