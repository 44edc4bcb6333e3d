import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';

/** Inclusive byte range, as in `Content-Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Bytes written under a temporary name, hashed and counted, not yet visible under their hash. */
export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /** Makes the bytes readable under their sha256 (atomically: readers see all or nothing). Identical bytes are stored once. */
  publish(): Promise<void>;
  /** Drops the temporary bytes; safe to call after publish (then it does nothing) and more than once. */
  discard(): Promise<void>;
}

export interface StageOptions {
  /** Fails with BlobTooLargeError as soon as more bytes than this arrive. */
  maxBytes?: number;
  /** Runs on the bytes before they are written, e.g. a check of the first bytes. */
  before?: Transform[];
}

/**
 * Where media bytes live, content-addressed by sha256. Writes go to a temporary name first so an
 * interrupted upload never becomes visible; the caller publishes together with its database row.
 */
export interface BlobStore {
  /** Human description (printed at start, in errors). */
  readonly location: string;
  stage(source: Readable | Buffer, options?: StageOptions): Promise<StagedBlob>;
  /** The bytes of a published blob, or the inclusive range of them. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;
  stat(sha256: string): Promise<{ size: number } | undefined>;
  delete(sha256: string): Promise<void>;
  /** Removes temporary bytes not touched for `olderThanMs` (left by a killed process); returns how many. */
  sweepStaging(olderThanMs: number): Promise<number>;
  /** Every published blob last written more than `olderThanMs` ago, for the orphan sweep. */
  listPublished(olderThanMs: number): AsyncIterable<string>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The upload is larger than the limit of ${limit} bytes.`);
    this.name = 'BlobTooLargeError';
  }
}

/**
 * Bytes the database records that the store does not hold: lost, or written by a process that
 * uses another store (servers sharing a database each with a GLOW_DATA_DIR of their own).
 */
export class BlobMissingError extends Error {
  constructor(readonly sha256: string) {
    super(`blob ${sha256} is not in the media store`);
    this.name = 'BlobMissingError';
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Hashes and counts the bytes passing through; errors the moment the count crosses `maxBytes`. */
export class HashingMeter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private digest: string | undefined;

  constructor(private readonly maxBytes: number = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.maxBytes) {
      callback(new BlobTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    callback();
  }

  get size(): number {
    return this.count;
  }

  get sha256(): string {
    if (this.digest === undefined) throw new Error('HashingMeter read before the stream ended');
    return this.digest;
  }
}

/**
 * Holds back the first `length` bytes (or all of a shorter stream), lets `check` inspect them, and
 * only then lets any byte through: a rejected stream writes nothing.
 */
export class HeadCheck extends Transform {
  private held: Buffer[] = [];
  private heldLength = 0;
  private checked = false;

  constructor(
    private readonly length: number,
    private readonly check: (head: Buffer) => Promise<void>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.checked) {
      callback(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldLength += chunk.length;
    if (this.heldLength < this.length) {
      callback();
      return;
    }
    this.release(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.checked) callback();
    else this.release(callback);
  }

  private release(callback: TransformCallback): void {
    const head = Buffer.concat(this.held);
    this.held = [];
    this.checked = true;
    this.check(head.subarray(0, this.length)).then(
      () => callback(null, head),
      (error: unknown) => callback(error as Error),
    );
  }
}

export function toReadable(source: Readable | Buffer): Readable {
  return Buffer.isBuffer(source) ? Readable.from(source.length > 0 ? [source] : [], { objectMode: false }) : source;
}
