/**
 * Following a generation's event stream (`GET /<art>/watch`): SSE parsed by eventsource-parser,
 * reconnection with Last-Event-ID when the connection drops, and the readable rendering of frames.
 */
import cliProgress from 'cli-progress';
import { createParser } from 'eventsource-parser';
import { EVENT_TYPE_SUFFIX } from '../generation/event-types.ts';
import { ApiError, CliError, type GlowClient } from './http.ts';
import type { Output } from './output.ts';

export type Frame = Record<string, any> & { event_type?: string; type?: string; run_id?: string; group_id?: string };

const KIND_BY_TYPE: Record<string, string> = EVENT_TYPE_SUFFIX;

/** `persona.generation.media_complete` → `media_complete`. */
export function frameKind(frame: Frame): string {
  const suffix = frame.event_type?.split('.generation.')[1];
  return suffix ?? KIND_BY_TYPE[frame.type ?? ''] ?? frame.event_type ?? frame.type ?? 'event';
}

export const isTerminal = (frame: Frame) => ['complete', 'error', 'failed'].includes(frameKind(frame));
export const isFailure = (frame: Frame) => ['error', 'failed'].includes(frameKind(frame));

export function describeFrame(frame: Frame): string {
  switch (frameKind(frame)) {
    case 'progress': {
      const last = typeof frame.last_completed_resource === 'string' ? ` ${frame.last_completed_resource}` : '';
      return `progress ${frame.completed_resources}/${frame.total_resources} ${frame.percentage}%${last}`;
    }
    case 'saved':
      return `saved ${frame.artifact_id}`;
    case 'complete':
    {
      const message = String(frame.message ?? '');
      const artifact = frame.artifact_id && !message.includes(frame.artifact_id) ? ` (artifact ${frame.artifact_id})` : '';
      return `complete: ${message}${artifact}`.trimEnd();
    }
    case 'error':
    case 'failed': {
      const resource = [frame.resource_type, frame.resource_id].filter(Boolean).join(' ');
      return `error: ${frame.message ?? 'the run failed'}${resource ? ` (resource ${resource})` : ''}`;
    }
    case 'media_progress':
      return `media_progress ${frame.modality} ${frame.status}${frame.message ? ` — ${frame.message}` : ''}`;
    case 'media_complete':
      return `media_complete ${frame.modality} ${frame.upload_id} ${frame.file_size} bytes ${frame.mime_type}`;
    default:
      return `${frame.event_type ?? frame.type ?? 'event'} ${JSON.stringify(frame)}`;
  }
}

/**
 * Prints frames as they arrive: one JSON line each with --json; otherwise readable lines, with
 * progress frames drawn as a bar when stdout is a terminal.
 */
export class FrameDisplay {
  private bars?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;

  constructor(private readonly output: Output, private readonly options: { labelRuns?: boolean } = {}) {}

  show(frame: Frame): void {
    if (this.output.json) {
      this.output.out(JSON.stringify(frame));
      return;
    }
    const label = this.options.labelRuns && frame.run_id ? `[run ${String(frame.run_id).slice(0, 8)}] ` : '';
    const line = label + describeFrame(frame);
    if (this.output.tty && frameKind(frame) === 'progress' && typeof frame.total_resources === 'number') {
      this.drawProgress(frame, label);
      return;
    }
    if (this.bars && !isTerminal(frame)) {
      this.bars.log(`${line}\n`);
      this.bars.update();
      return;
    }
    // The bar is done at a terminal frame; stopping it first keeps the last line below it.
    this.close();
    this.output.out(line);
  }

  private drawProgress(frame: Frame, label: string): void {
    this.bars ??= new cliProgress.MultiBar(
      { format: '{label}{bar} {value}/{total} {percentage}%', hideCursor: true, clearOnComplete: false, stream: process.stdout },
      cliProgress.Presets.shades_classic,
    );
    if (!this.bar) this.bar = this.bars.create(frame.total_resources, 0, { label });
    this.bar.setTotal(frame.total_resources);
    this.bar.update(frame.completed_resources, { label });
  }

  close(): void {
    this.bars?.stop();
    this.bars = undefined;
    this.bar = undefined;
  }
}

export interface FollowOptions {
  /** Called for every frame; answer true to stop following (a terminal frame was seen). */
  onFrame: (frame: Frame) => boolean;
  /** Group streams stay open: reconnect even when the server ends the stream cleanly. */
  reconnectOnEnd: boolean;
  /** Start after this event id (a watch resumed by hand). */
  resumeAfter?: string;
  /** Reconnections in a row without receiving an event before giving up. */
  maxReconnects?: number;
}

type StreamEnd = 'stopped' | 'ended' | 'dropped';

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (id: string | undefined, data: string) => boolean): Promise<StreamEnd> {
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows `path` (a watch URL) until onFrame says stop, the stream ends (run streams), or
 * reconnection gives up. A dropped connection is resumed with Last-Event-ID, so no event is
 * missed or shown twice. Answers how it ended: at a terminal frame, with the server's end of the
 * stream, or at once because the run had already ended before the resume point (204).
 */
export async function followWatch(client: GlowClient, path: string, options: FollowOptions): Promise<'terminal' | 'ended' | 'already-ended'> {
  const maxReconnects = options.maxReconnects ?? 5;
  let lastEventId = options.resumeAfter;
  let connected = false;
  let reconnects = 0;
  for (;;) {
    let end: StreamEnd;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const response = await client.ensureOk(await client.send(path, { method: 'GET', headers }));
      connected = true;
      // 204: the run had ended at or before the event we resume after; nothing will follow.
      if (response.status === 204) return 'already-ended';
      if (!response.body) return 'ended';
      end = await readEvents(response.body, (id, data) => {
        if (id !== undefined) lastEventId = id;
        reconnects = 0;
        let frame: Frame;
        try {
          frame = JSON.parse(data);
        } catch {
          frame = { event_type: 'unparsed', data };
        }
        return options.onFrame(frame);
      });
    } catch (error) {
      // The first connection fails loudly (wrong URL, 401, 404); later ones are retried.
      if (!connected) throw error;
      if (!(error instanceof CliError)) throw error;
      if (error instanceof ApiError && error.status < 500) throw error;
      end = 'dropped';
    }
    if (end === 'stopped') return 'terminal';
    if (end === 'ended' && !options.reconnectOnEnd) return 'ended';
    reconnects++;
    if (reconnects > maxReconnects) {
      throw new CliError(`lost the event stream ${client.url(path)} and could not reconnect after ${maxReconnects} attempts`);
    }
    await sleep(Math.min(250 * 2 ** (reconnects - 1), 4000));
  }
}
