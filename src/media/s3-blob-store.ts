import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { v7 as uuidv7 } from 'uuid';
import { BlobMissingError, HashingMeter, SHA256_HEX, toReadable, type BlobStore, type ByteRange, type StagedBlob, type StageOptions } from './blob-store.ts';

export interface S3Settings {
  bucket: string;
  region?: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
}

const BLOB_PREFIX = 'blobs/';
const STAGING_PREFIX = 'staging/';

/** `blobs/ab/<sha256>`: the same layout as the local store, so tools can treat both alike. */
export function s3BlobKey(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return `${BLOB_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

export function s3ClientConfig(settings: S3Settings): S3ClientConfig {
  return {
    region: settings.region ?? 'us-east-1',
    // The SDK's default CRC checksums (aws-chunked trailers) are not understood by every
    // S3-compatible server; send and check them only where the API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.forcePathStyle !== undefined ? { forcePathStyle: settings.forcePathStyle } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
  };
}

/**
 * Blobs in an S3-compatible bucket, for installs where several servers share media. The hash is
 * only known once every byte has gone by, so bytes go to `staging/<uuid>` as a multipart upload
 * and publishing is a server-side copy to `blobs/ab/<sha256>` (single-request copy: up to 5 GB,
 * far above the upload limit) followed by deleting the staged object.
 */
export class S3BlobStore implements BlobStore {
  readonly location: string;
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings, client?: S3Client) {
    this.client = client ?? new S3Client(s3ClientConfig(settings));
    this.location = `S3 bucket ${settings.bucket}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
  }

  async stage(source: Readable | Buffer, options: StageOptions = {}): Promise<StagedBlob> {
    const stagingKey = `${STAGING_PREFIX}${uuidv7()}`;
    const meter = new HashingMeter(options.maxBytes);
    const body = new PassThrough();
    const upload = new Upload({ client: this.client, params: { Bucket: this.settings.bucket, Key: stagingKey, Body: body } });
    // A failed upload stops reading its body; end the pipeline too so neither side waits forever.
    const uploaded = upload.done().catch((error: unknown) => {
      body.destroy(error as Error);
      throw error;
    });
    try {
      await Promise.all([pipeline([toReadable(source), ...(options.before ?? []), meter, body]), uploaded]);
    } catch (error) {
      await upload.abort().catch(() => {});
      await this.deleteKey(stagingKey).catch(() => {});
      throw error;
    }
    const sha256 = meter.sha256;
    let settled = false;
    return {
      sha256,
      size: meter.size,
      publish: async () => {
        if (settled) return;
        await this.client.send(
          new CopyObjectCommand({ Bucket: this.settings.bucket, Key: s3BlobKey(sha256), CopySource: `${this.settings.bucket}/${stagingKey}` }),
        );
        settled = true;
        await this.deleteKey(stagingKey).catch(() => {
          // Left for sweepStaging.
        });
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await this.deleteKey(stagingKey);
      },
    };
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    const output = await this.client
      .send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: s3BlobKey(sha256), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }))
      .catch((error: unknown) => {
        throw (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404 ? new BlobMissingError(sha256) : error;
      });
    if (!(output.Body instanceof Readable)) throw new Error(`S3 returned no stream for ${sha256}`);
    return output.Body;
  }

  async stat(sha256: string): Promise<{ size: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: s3BlobKey(sha256) }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.deleteKey(s3BlobKey(sha256));
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
  }

  private async *listKeys(prefix: string, olderThanMs: number): AsyncIterable<string> {
    const cutoff = Date.now() - olderThanMs;
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key && object.LastModified && object.LastModified.getTime() <= cutoff) yield object.Key;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async sweepStaging(olderThanMs: number): Promise<number> {
    let removed = 0;
    for await (const key of this.listKeys(STAGING_PREFIX, olderThanMs)) {
      await this.deleteKey(key);
      removed += 1;
    }
    return removed;
  }

  async *listPublished(olderThanMs: number): AsyncIterable<string> {
    for await (const key of this.listKeys(BLOB_PREFIX, olderThanMs)) {
      const sha256 = key.slice(key.lastIndexOf('/') + 1);
      if (SHA256_HEX.test(sha256)) yield sha256;
    }
  }
}
