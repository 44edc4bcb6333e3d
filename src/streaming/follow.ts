import { createParser } from 'eventsource-parser';

/**
 * Following a watch stream from the client side, shared by the CLI and the web console (so it
 * uses only fetch's Response and eventsource-parser, nothing of Node). A dropped connection is
 * resumed with `Last-Event-ID`, so no event is missed or seen twice.
 */

type StreamEnd = 'stopped' | 'ended' | 'dropped';

/** Reads SSE events from `body` until `onEvent` answers true (stopped), the server ends it, or the connection drops. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (id: string | undefined, data: string) => boolean): Promise<StreamEnd> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let stop = false;
  const parser = createParser({
    onEvent: (event) => {
      if (!stop && onEvent(event.id, event.data)) stop = true;
    },
  });
  while (!stop) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      return 'dropped';
    }
    if (chunk.done) return 'ended';
    parser.feed(decoder.decode(chunk.value, { stream: true }));
  }
  await reader.cancel().catch(() => undefined);
  return 'stopped';
}

export class StreamLost extends Error {
  constructor(readonly attempts: number) {
    super(`lost the event stream and could not reconnect after ${attempts} attempts`);
  }
}

export interface FollowOptions {
  /** Opens the stream after `lastEventId`: resolves with a 2xx response (204 included), throws otherwise. */
  connect(lastEventId: string | undefined): Promise<Response>;
  /** Called for every event; answer true to stop following (a terminal event was seen). A throw ends the follow. */
  onEvent(id: string | undefined, data: string): boolean;
  /** Whether a failed connection may be tried again (a dropped network, a 5xx); `connectedBefore` tells a first attempt apart. */
  retryable(error: unknown, connectedBefore: boolean): boolean;
  /**
   * Reconnect when the server ends the stream cleanly: `true` for group streams, which stay open;
   * `'once-streaming'` for a run's stream, once it has carried an event (a server going down for a
   * restart ends it early; a silent one it ends after its idle cut-off means nothing is coming).
   */
  reconnectOnEnd: boolean | 'once-streaming';
  /** Start after this event id. */
  resumeAfter?: string;
  /** Reconnections in a row without receiving an event before giving up (default 5). */
  maxReconnects?: number;
  /** Reconnections are announced here (attempt 1, 2, ... in a row). */
  onReconnect?(attempt: number): void;
  /** Stops following (the page was left). */
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows a stream until `onEvent` says stop ('terminal'), the server ends it ('ended', unless
 * `reconnectOnEnd`), the run had already ended before the resume point ('already-ended': 204), or
 * `signal` aborts ('aborted'). Throws `StreamLost` when reconnecting gives up.
 */
export async function followEvents(options: FollowOptions): Promise<'terminal' | 'ended' | 'already-ended' | 'aborted'> {
  const maxReconnects = options.maxReconnects ?? 5;
  let lastEventId = options.resumeAfter;
  let connected = false;
  let reconnects = 0;
  for (;;) {
    if (options.signal?.aborted) return 'aborted';
    let end: StreamEnd;
    try {
      const response = await options.connect(lastEventId);
      connected = true;
      // 204: the run had ended at or before the event we resume after; nothing will follow.
      if (response.status === 204) return 'already-ended';
      if (!response.body) return 'ended';
      end = await readEvents(response.body, (id, data) => {
        if (id !== undefined) lastEventId = id;
        reconnects = 0;
        return options.onEvent(id, data);
      });
    } catch (error) {
      if (options.signal?.aborted) return 'aborted';
      if (!options.retryable(error, connected)) throw error;
      end = 'dropped';
    }
    if (options.signal?.aborted) return 'aborted';
    if (end === 'stopped') return 'terminal';
    if (end === 'ended' && (options.reconnectOnEnd === false || (options.reconnectOnEnd === 'once-streaming' && lastEventId === undefined))) return 'ended';
    reconnects++;
    // A server that keeps ending the stream cleanly (going down, and not back yet) ended it; one
    // that cannot be reached lost it.
    if (reconnects > maxReconnects) {
      if (end === 'ended') return 'ended';
      throw new StreamLost(maxReconnects);
    }
    options.onReconnect?.(reconnects);
    await sleep(Math.min(250 * 2 ** (reconnects - 1), 4000));
  }
}
