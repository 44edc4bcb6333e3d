import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PreviewJob, PreviewResult } from './preview-worker.ts';

export interface RenderedPreview {
  png: Buffer;
  width: number;
  height: number;
}

/** The PDF could not be rendered: broken, too slow or too big. The server itself is fine. */
export class PreviewFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreviewFailedError';
  }
}

export interface PreviewRendererOptions {
  timeoutMs?: number;
  maxHeapMb?: number;
  workers?: number;
  maxWidth?: number;
  maxHeight?: number;
}

const require = createRequire(import.meta.url);
// pdfjs reads these with fs in Node, so a folder path with its trailing separator, not a URL.
const STANDARD_FONTS_DIR = path.join(path.dirname(require.resolve('pdfjs-dist/package.json')), 'standard_fonts') + path.sep;
const WORKER_URL = new URL('./preview-worker-entry.mjs', import.meta.url);

interface PendingJob {
  pdf: Uint8Array;
  resolve: (preview: RenderedPreview) => void;
  reject: (error: Error) => void;
}

/**
 * A small pool of render workers. Each job gets a worker with a bounded heap and a deadline; a
 * worker that overruns either is terminated and replaced, and its job fails with PreviewFailedError.
 * Workers are kept between jobs because loading pdfjs costs more than rendering a typical page.
 */
export class PreviewRenderer {
  private readonly timeoutMs: number;
  private readonly maxHeapMb: number;
  private readonly size: number;
  private readonly maxWidth: number;
  private readonly maxHeight: number;
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private readonly queue: PendingJob[] = [];
  private starting = 0;
  private closed = false;

  constructor(options: PreviewRendererOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxHeapMb = options.maxHeapMb ?? 512;
    this.size = options.workers ?? Math.max(1, Math.min(2, os.availableParallelism() - 1));
    this.maxWidth = options.maxWidth ?? 1024;
    this.maxHeight = options.maxHeight ?? 2048;
  }

  render(pdf: Uint8Array): Promise<RenderedPreview> {
    if (this.closed) return Promise.reject(new Error('the preview renderer is closed'));
    // The bytes are transferred to the worker; a view into a shared pool slab must be copied first.
    const owned = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength ? pdf : new Uint8Array(pdf);
    return new Promise((resolve, reject) => {
      this.queue.push({ pdf: owned, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop();
      if (worker) {
        this.run(worker, this.queue.shift()!);
        continue;
      }
      if (this.busy.size + this.starting >= this.size) return;
      const job = this.queue.shift()!;
      this.starting += 1;
      this.spawn().then(
        (started) => {
          this.starting -= 1;
          if (this.closed) {
            void started.terminate();
            job.reject(new Error('the preview renderer is closed'));
            return;
          }
          this.run(started, job);
        },
        (error: Error) => {
          this.starting -= 1;
          job.reject(new PreviewFailedError(`The PDF could not be rendered: the renderer did not start (${error.message}).`));
          this.dispatch();
        },
      );
    }
  }

  /**
   * A worker that has loaded pdfjs. Starting one (TypeScript loader, pdfjs, canvas) can take
   * seconds on a loaded machine; that is not the PDF's fault, so the render deadline starts
   * only once the worker says it is ready.
   */
  private spawn(): Promise<Worker> {
    const worker = new Worker(WORKER_URL, {
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb, maxYoungGenerationSizeMb: 64 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(bootDeadline);
        worker.off('message', onReady);
        worker.off('error', onFailure);
        worker.off('exit', onExit);
      };
      const onReady = (message: { ready?: boolean }) => {
        if (!message?.ready) return;
        cleanup();
        resolve(worker);
      };
      const onFailure = (error: Error) => {
        cleanup();
        void worker.terminate();
        reject(error);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`exit ${code}`));
      };
      const bootDeadline = setTimeout(() => onFailure(new Error('not ready within 60 s')), 60_000);
      worker.on('message', onReady);
      worker.on('error', onFailure);
      worker.on('exit', onExit);
    });
  }

  private run(worker: Worker, job: PendingJob): void {
    this.busy.add(worker);
    let finished = false;
    const finish = (outcome: { preview: RenderedPreview } | { error: Error }, reusable: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      this.busy.delete(worker);
      if (reusable && !this.closed) this.idle.push(worker);
      else void worker.terminate();
      if ('preview' in outcome) job.resolve(outcome.preview);
      else job.reject(outcome.error);
      this.dispatch();
    };
    const onMessage = (result: PreviewResult) => {
      if (result.ok) finish({ preview: { png: Buffer.from(result.png.buffer, result.png.byteOffset, result.png.byteLength), width: result.width, height: result.height } }, true);
      else finish({ error: new PreviewFailedError(`The PDF could not be rendered: ${result.message}`) }, true);
    };
    const onError = (error: Error & { code?: string }) => {
      // An error raised in the worker may arrive without its message (a DOMException does).
      const reason = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `rendering it needed more than ${this.maxHeapMb} MiB` : error.message || error.name || 'the renderer failed';
      finish({ error: new PreviewFailedError(`The PDF could not be rendered: ${reason}.`) }, false);
    };
    const onExit = (code: number) => finish({ error: new PreviewFailedError(`The PDF could not be rendered: the renderer stopped (exit ${code}).`) }, false);
    const deadline = setTimeout(
      () => finish({ error: new PreviewFailedError(`The PDF could not be rendered within ${this.timeoutMs / 1000} s.`) }, false),
      this.timeoutMs,
    );
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    const message: PreviewJob = { pdf: job.pdf, standardFontDataUrl: STANDARD_FONTS_DIR, maxWidth: this.maxWidth, maxHeight: this.maxHeight };
    worker.postMessage(message, [job.pdf.buffer as ArrayBuffer]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the preview renderer is closed'));
    await Promise.all([...this.idle.splice(0), ...this.busy].map((worker) => worker.terminate()));
  }
}
