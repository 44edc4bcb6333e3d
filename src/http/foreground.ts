import http from 'node:http';

/** How long periodic maintenance (the run sweep, PGlite's VACUUM) waits for requests to be answered before it goes ahead anyway. */
export const MAINTENANCE_WAIT_MS = 1_000;

/**
 * Whether requests are being served (reportServedRequests). Background work that competes with
 * them for the process's CPU and the database (executing runs, maintenance) waits until it is
 * quiet, for a bounded time (quietOrAfter): a burst of requests is answered first, and under
 * steady load, or with a request that never ends, the work still goes ahead, only later.
 */
export class ForegroundWork {
  private busy = 0;
  private onQuiet: (() => void)[] = [];
  private quietCheck = false;
  /** Requests counted by track and not yet released, each by an object standing for it (its response). */
  private readonly tracked = new WeakSet<object>();

  enter(): void {
    this.busy += 1;
  }

  leave(): void {
    this.busy -= 1;
    if (this.busy > 0 || this.quietCheck) return;
    // The next request of a burst may already be on its way in: it is quiet only if it still is
    // once the pending I/O has been read.
    this.quietCheck = true;
    setImmediate(() => {
      this.quietCheck = false;
      if (this.busy > 0) return;
      const callbacks = this.onQuiet;
      this.onQuiet = [];
      for (const callback of callbacks) callback();
    });
  }

  /** Counts `request` as being served until it is released. */
  track(request: object): void {
    this.tracked.add(request);
    this.enter();
  }

  /**
   * Stops counting `request`; once only, so every way a request can end may call it. A request
   * that goes on to wait for background work (a trigger awaiting its run) calls it then: the work
   * it waits for would otherwise be held back for it.
   */
  release(request: object): void {
    if (this.tracked.delete(request)) this.leave();
  }

  /** No request is being served, and none was answered in this turn of the event loop. */
  get quiet(): boolean {
    return this.busy === 0 && !this.quietCheck;
  }

  /** Resolves once it is quiet, or after `ms` if it is not by then. */
  quietOrAfter(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.quiet) return resolve();
      const quiet = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.onQuiet = this.onQuiet.filter((callback) => callback !== quiet);
        resolve();
      }, ms);
      // Waiting work does not keep a stopping process alive.
      timer.unref();
      this.onQuiet.push(quiet);
    });
  }
}

/**
 * Reports each request to `work` (enter, then leave once) while it is being served: from its
 * arrival until its response head is written, or its connection closes. A streamed response (a
 * watch, a download) stops counting once its head is out: its body may flow for hours.
 */
export function reportServedRequests(server: http.Server, work: ForegroundWork): void {
  // Shared by every request (no closures made per request): the trigger path is hot.
  // Node writes an implicit head through this method too, so every response passes here.
  function writeHeadOnce(this: http.ServerResponse, ...args: unknown[]) {
    work.release(this);
    return (http.ServerResponse.prototype.writeHead as (...head: unknown[]) => http.ServerResponse).apply(this, args);
  }
  function onClose(this: http.ServerResponse) {
    work.release(this);
  }
  server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => {
    work.track(response);
    response.writeHead = writeHeadOnce as typeof response.writeHead;
    response.on('close', onClose);
  });
}
