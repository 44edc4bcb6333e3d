import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { v7 as uuidv7 } from 'uuid';
import { BlobMissingError, HashingMeter, SHA256_HEX, toReadable, type BlobStore, type ByteRange, type StagedBlob, type StageOptions } from './blob-store.ts';

const STAGING_SUFFIX = '.part';
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Blobs in a folder: `<root>/blobs/ab/<sha256>`, temporary bytes in `<root>/staging` on the same
 * filesystem so publishing is one rename. No fsync: a crash may lose a just-published blob's
 * bytes along with the transaction that referenced it, which is the trade every local store makes.
 */
export class LocalBlobStore implements BlobStore {
  readonly location: string;
  private readonly blobsDir: string;
  private readonly stagingDir: string;
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.location = `folder ${root}`;
    this.blobsDir = path.join(root, 'blobs');
    this.stagingDir = path.join(root, 'staging');
  }

  private ensureFolders(): Promise<void> {
    this.ready ??= Promise.all([mkdir(this.blobsDir, { recursive: true }), mkdir(this.stagingDir, { recursive: true })]).then(() => undefined);
    return this.ready;
  }

  blobPath(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  async stage(source: Readable | Buffer, options: StageOptions = {}): Promise<StagedBlob> {
    await this.ensureFolders();
    const tempPath = path.join(this.stagingDir, `${uuidv7()}${STAGING_SUFFIX}`);
    const meter = new HashingMeter(options.maxBytes);
    const sink = createWriteStream(tempPath, { flags: 'wx' });
    // The file is opened asynchronously: a pipeline that failed before the open finished (a refused
    // signature) would have its file created after the rm below. Once open, the rm always finds it.
    await once(sink, 'ready');
    try {
      await pipeline([toReadable(source), ...(options.before ?? []), meter, sink]);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
    const sha256 = meter.sha256;
    const target = this.blobPath(sha256);
    let settled = false;
    return {
      sha256,
      size: meter.size,
      publish: async () => {
        if (settled) return;
        await mkdir(path.dirname(target), { recursive: true });
        // Identical bytes may already be there; replacing them with the same bytes is harmless and atomic.
        await rename(tempPath, target);
        settled = true;
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await rm(tempPath, { force: true });
      },
    };
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    // Larger reads than the 64 KiB default: fewer syscalls and chunks per response, still bounded by socket backpressure.
    const stream = createReadStream(this.blobPath(sha256), { highWaterMark: READ_CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) });
    // Surface a missing file as a rejected promise rather than an error on a stream already handed out.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new BlobMissingError(sha256) : error));
    });
    return stream;
  }

  async stat(sha256: string): Promise<{ size: number } | undefined> {
    try {
      return { size: (await stat(this.blobPath(sha256))).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.blobPath(sha256), { force: true });
  }

  async sweepStaging(olderThanMs: number): Promise<number> {
    await this.ensureFolders();
    let removed = 0;
    const cutoff = Date.now() - olderThanMs;
    for (const name of await readdir(this.stagingDir)) {
      if (!name.endsWith(STAGING_SUFFIX)) continue;
      const file = path.join(this.stagingDir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && info.mtimeMs <= cutoff) {
        await rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async *listPublished(olderThanMs: number): AsyncIterable<string> {
    await this.ensureFolders();
    const cutoff = Date.now() - olderThanMs;
    for (const prefix of await readdir(this.blobsDir)) {
      const folder = path.join(this.blobsDir, prefix);
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        if (!SHA256_HEX.test(name)) continue;
        const info = await stat(path.join(folder, name)).catch(() => undefined);
        if (info && info.mtimeMs <= cutoff) yield name;
      }
    }
  }
}
