// Renders the first page of a PDF to PNG, in a worker thread: the parent bounds its heap and time
// and terminates it when a hostile or huge PDF would otherwise take the server down.
import { parentPort } from 'node:worker_threads';
import { createCanvas } from '@napi-rs/canvas';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

export interface PreviewJob {
  pdf: Uint8Array;
  standardFontDataUrl: string;
  /** Largest width and height of the PNG in pixels; also bounds the canvas's native memory. */
  maxWidth: number;
  maxHeight: number;
}

export type PreviewResult = { ok: true; png: Uint8Array; width: number; height: number } | { ok: false; message: string };

async function render(job: PreviewJob): Promise<PreviewResult> {
  let loading: ReturnType<typeof getDocument> | undefined;
  try {
    loading = getDocument({ data: job.pdf, standardFontDataUrl: job.standardFontDataUrl, isEvalSupported: false, verbosity: 0 });
    const document = await loading.promise;
    const page = await document.getPage(1);
    const natural = page.getViewport({ scale: 1 });
    const scale = Math.min(job.maxWidth / natural.width, job.maxHeight / natural.height, 2);
    const viewport = page.getViewport({ scale });
    const width = Math.max(1, Math.floor(viewport.width));
    const height = Math.max(1, Math.floor(viewport.height));
    const canvas = createCanvas(width, height);
    const context = canvas.getContext('2d');
    // PDFs assume a white page; a transparent PNG shows black text on dark backgrounds.
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    await page.render({ canvas: canvas as never, canvasContext: context as never, viewport }).promise;
    // Copied out of the canvas's native buffer: Node 22 refuses to transfer an external ArrayBuffer
    // (DataCloneError), and the copy, unlike the native memory, can be handed to the parent whole.
    const png = new Uint8Array(await canvas.encode('png'));
    page.cleanup();
    return { ok: true, png, width, height };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  } finally {
    await loading?.destroy().catch(() => {});
  }
}

parentPort?.on('message', (job: PreviewJob) => {
  void render(job).then((result) => {
    if (result.ok) parentPort!.postMessage(result, [result.png.buffer as ArrayBuffer]);
    else parentPort!.postMessage(result);
  });
});

// Tells the pool that pdfjs is loaded, so the render deadline measures rendering only.
parentPort?.postMessage({ ready: true });
