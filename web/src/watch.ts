import { TERMINAL_EVENT_TYPES } from '../../src/generation/event-types.ts';
import { followEvents, StreamLost } from '../../src/streaming/follow.ts';
import { ApiError, type Api } from './api.ts';

export interface Frame {
  id: string;
  data: Record<string, any>;
}

/** Reconnections in a row without an event before the page gives up (a second apart at most 4 s). */
const MAX_RECONNECTS = 20;

class MalformedFrame extends Error {}

/**
 * Follows `GET /<type>/watch?run_id=` until the run's terminal event, over fetch so the token
 * travels in a header, never in a URL. A dropped connection, a stream the server ended early, a
 * 5xx or a 429 is resumed with `Last-Event-ID` (src/streaming/follow.ts, which the CLI uses too):
 * every later event arrives once, so nothing is shown twice or missed. Resolves with the terminal
 * frame, or undefined when the view was left or the server has nothing more (204).
 */
export async function followRun(api: Api, type: string, runId: string, onFrame: (frame: Frame) => void, signal: AbortSignal, onReconnect?: (attempt: number) => void): Promise<Frame | undefined> {
  let terminal: Frame | undefined;
  try {
    const outcome = await followEvents({
      connect: async (lastEventId) => {
        const headers: Record<string, string> = { ...api.headers, accept: 'text/event-stream' };
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const response = await fetch(`/${type}/watch?run_id=${encodeURIComponent(runId)}`, { headers, signal });
        if (!response.ok) throw await api.failure(response);
        return response;
      },
      onEvent: (id, data) => {
        let payload: Record<string, any>;
        try {
          payload = JSON.parse(data) as Record<string, any>;
        } catch {
          throw new MalformedFrame(`Event ${id ?? ''} of run ${runId} is not JSON; the stream cannot be followed.`);
        }
        const frame: Frame = { id: id ?? '', data: payload };
        onFrame(frame);
        if (TERMINAL_EVENT_TYPES.has(String(payload.type))) terminal = frame;
        return terminal !== undefined;
      },
      // A network failure (fetch's TypeError) or a server in trouble is worth another try; a 4xx is an answer.
      retryable: (error) => error instanceof TypeError || (error instanceof ApiError && (error.status >= 500 || error.status === 429)),
      reconnectOnEnd: true,
      maxReconnects: MAX_RECONNECTS,
      signal,
      ...(onReconnect ? { onReconnect } : {}),
    });
    // The server kept ending the stream before the run's end: as lost as a stream that kept dropping.
    if (outcome === 'ended') throw new StreamLost(MAX_RECONNECTS);
  } catch (error) {
    if (error instanceof StreamLost) throw new Error(`The stream of run ${runId} kept dropping; it may still be running (see its group).`);
    throw error;
  }
  return terminal;
}
