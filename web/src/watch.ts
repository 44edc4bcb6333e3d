import { createParser } from 'eventsource-parser';
import type { Api } from './api.ts';

class MalformedFrame extends Error {}

export interface Frame {
  id: string;
  data: Record<string, any>;
}

const TERMINAL = new Set(['GenerationCompleteEvent', 'GenerationErrorEvent']);
const RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECTS = 20;

/**
 * Follows `GET /<type>/watch?run_id=` until the run's terminal event, over fetch so the token
 * travels in a header, never in a URL. A dropped connection resumes with `Last-Event-ID`: the
 * server sends every later event once, so nothing is shown twice or missed. Resolves with the
 * terminal frame, or undefined when stopped or when the server has nothing more (204).
 */
export async function followRun(api: Api, type: string, runId: string, onFrame: (frame: Frame) => void, signal: AbortSignal, onReconnect?: (attempt: number) => void): Promise<Frame | undefined> {
  let lastEventId: string | undefined;
  for (let attempt = 0; attempt <= MAX_RECONNECTS; attempt += 1) {
    if (attempt > 0) {
      onReconnect?.(attempt);
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
    }
    if (signal.aborted) return undefined;
    const headers: Record<string, string> = { ...api.headers, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    let response: Response;
    try {
      response = await fetch(`/${type}/watch?run_id=${encodeURIComponent(runId)}`, { headers, signal });
    } catch (error) {
      if (signal.aborted) return undefined;
      continue;
    }
    if (response.status === 204) return undefined;
    // A proxy or a restarting server: try again, from the last event shown.
    if (response.status >= 500 || response.status === 429) continue;
    if (!response.ok || !response.body) throw await api.failure(response);
    let terminal: Frame | undefined;
    const parser = createParser({
      onEvent(message) {
        let data: Record<string, any>;
        try {
          data = JSON.parse(message.data) as Record<string, any>;
        } catch {
          throw new MalformedFrame(`Event ${message.id ?? ''} of run ${runId} is not JSON; the stream cannot be followed.`);
        }
        if (message.id) lastEventId = message.id;
        const frame: Frame = { id: message.id ?? '', data };
        onFrame(frame);
        if (TERMINAL.has(String(frame.data.type))) terminal = frame;
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
        if (terminal) {
          await reader.cancel();
          return terminal;
        }
      }
    } catch (error) {
      if (error instanceof MalformedFrame) throw error;
      if (signal.aborted) return undefined;
    }
    if (terminal) return terminal;
  }
  throw new Error(`The stream of run ${runId} kept dropping; it may still be running (see its group).`);
}
