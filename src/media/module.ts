import path from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { ArtifactUploadLinks } from '../artifacts/upload-links.ts';
import type { CallRecordSource, CoreServices, GlowModule } from '../module.ts';
import type { BlobStore } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { PreviewRenderer } from './preview-renderer.ts';
import { mediaOperations } from './routes.ts';
import { S3BlobStore } from './s3-blob-store.ts';
import { MediaService } from './service.ts';
import { createArtifactUploadLinks } from './visibility.ts';

export { linkUploadsToMessage, linkUploadsToArtifact, assertUploadsUsable } from './visibility.ts';
export { enableMultipart, isUploadOperation } from './multipart.ts';
export type { MediaService, StoreUploadInput, UploadIds } from './service.ts';

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

export interface MediaModule extends GlowModule {
  /** For other concerns: storeUpload (generated media), findDownloadable. */
  service: MediaService;
}

/** How artifacts check and record the uploads they reference (see ArtifactUploadLinks). */
export function createUploadLinks(database: Database): ArtifactUploadLinks {
  return createArtifactUploadLinks(database);
}

/** The S3 bucket when GLOW_S3_BUCKET is set, else `GLOW_DATA_DIR/media`. */
export function createBlobStore(config: Config): BlobStore {
  if (config.GLOW_S3_BUCKET) {
    return new S3BlobStore({
      bucket: config.GLOW_S3_BUCKET,
      region: config.GLOW_S3_REGION,
      endpoint: config.GLOW_S3_ENDPOINT,
      accessKeyId: config.GLOW_S3_ACCESS_KEY_ID,
      secretAccessKey: config.GLOW_S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.GLOW_S3_FORCE_PATH_STYLE,
    });
  }
  return new LocalBlobStore(path.join(config.dataDir, 'media'));
}

export async function createMediaModule(services: CoreServices, callRecords: CallRecordSource): Promise<MediaModule> {
  const store = createBlobStore(services.config);
  const renderer = new PreviewRenderer();
  const service = new MediaService(services.database, store, services.artifacts, callRecords, renderer, services.config.GLOW_MAX_UPLOAD_BYTES);
  let sweeper: NodeJS.Timeout | undefined;
  return {
    name: 'media',
    operations: mediaOperations(service),
    service,
    async start() {
      await service.sweep();
      // Again every hour: a long-running server must not keep a killed sibling's temporary bytes forever.
      sweeper = setInterval(() => void service.sweep().catch(() => {}), SWEEP_INTERVAL_MS);
      sweeper.unref();
    },
    async stop() {
      clearInterval(sweeper);
      await renderer.close();
    },
  };
}
