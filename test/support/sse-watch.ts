// Following a run's watch stream in tests: every frame parsed as it arrives, until the server closes it.
import assert from 'node:assert/strict';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ApiClient } from './harness.ts';

export interface Frame {
  id: string;
  data: any;
}

/** Watches a run to its end (the server closes a run stream after the terminal event) and returns every frame. */
export async function watchRunToEnd(client: ApiClient, type: string, runId: string): Promise<Frame[]> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (client.token) headers.authorization = `Bearer ${client.token}`;
  const response = await fetch(`${client.baseUrl}/${type}/watch?run_id=${runId}`, { headers });
  assert.equal(response.status, 200, await (response.status === 200 ? Promise.resolve('') : response.text()));
  const frames: Frame[] = [];
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      frames.push({ id: message.id ?? '', data: JSON.parse(message.data) });
    },
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return frames;
    parser.feed(value);
  }
}

/** The frames' event types with the media status folded in: `media_progress:started`, `saved`, `complete`... */
export function frameKinds(frames: Frame[]): string[] {
  return frames.map((frame) => {
    const suffix = String(frame.data.event_type).split('.generation.')[1] ?? String(frame.data.type);
    return suffix === 'media_progress' ? `${suffix}:${frame.data.status}` : suffix;
  });
}
