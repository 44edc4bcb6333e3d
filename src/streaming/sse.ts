import type { ServerResponse } from 'node:http';

/** A client that lets this much output pile up unread is cut off; it resumes with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface SseStreamOptions {
  /** Close once no event was sent for this long (run-scoped streams); undefined: never. */
  idleCutoffMs?: number;
}

/** One SSE frame: `id:` and `data:` lines and a blank line. */
export function sseFrame(id: number | string, data: string): string {
  return `id: ${id}\ndata: ${data}\n\n`;
}

/**
 * One open `text/event-stream` response. Frames are `id:` + `data:` lines and a blank line, with
 * no `event:` line, so `EventSource.onmessage` sees every frame.
 */
export class SseStream {
  private closed = false;
  private lastEventAt = Date.now();
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly response: ServerResponse,
    readonly options: SseStreamOptions = {},
  ) {
    response.on('close', () => this.finish());
    response.on('error', () => this.finish());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  open(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.response.flushHeaders();
  }

  sendEvent(id: number | string, data: string): void {
    this.sendFrames(sseFrame(id, data));
  }

  /** Already-built frames (`sseFrame`), written at once. */
  sendFrames(frames: string): void {
    if (frames === '') return;
    this.lastEventAt = Date.now();
    this.write(frames);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  /** Keep-alive tick: a comment, or a clean close when the idle cut-off has passed. */
  tick(now: number): void {
    if (this.closed) return;
    if (this.options.idleCutoffMs !== undefined && now - this.lastEventAt >= this.options.idleCutoffMs) {
      this.end();
      return;
    }
    this.comment('keep-alive');
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  end(): void {
    if (this.closed) return;
    this.response.end();
    this.finish();
  }

  private write(text: string): void {
    if (this.closed) return;
    if (this.response.writableLength > MAX_BUFFERED_BYTES) {
      this.response.destroy();
      this.finish();
      return;
    }
    this.response.write(text);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const handler of this.closeHandlers.splice(0)) handler();
  }
}

/** Every open stream of this process, ticked by one timer (not a timer per stream). */
export class SseStreams {
  private readonly streams = new Set<SseStream>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly keepAliveMs = 15_000) {}

  add(stream: SseStream): void {
    this.streams.add(stream);
    stream.onClose(() => this.streams.delete(stream));
    if (!this.timer) {
      this.timer = setInterval(() => {
        const now = Date.now();
        for (const open of this.streams) open.tick(now);
      }, this.keepAliveMs);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.streams.size;
  }

  closeAll(): void {
    for (const stream of [...this.streams]) stream.end();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
