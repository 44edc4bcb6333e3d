/**
 * Following a generation's event stream (`GET /<art>/watch`): SSE parsed by eventsource-parser,
 * reconnection with Last-Event-ID when the connection drops, and the readable rendering of frames.
 */
import cliProgress from 'cli-progress';
import { EVENT_TYPE_SUFFIX } from '../generation/event-types.ts';
import { followEvents, StreamLost } from '../streaming/follow.ts';
import { ApiError, CliError, type GlowClient } from './http.ts';
import { escapeControls, type Output } from './output.ts';

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
      const ids: string[] = Array.isArray(frame.artifact_ids) ? frame.artifact_ids : frame.artifact_id ? [frame.artifact_id] : [];
      const unnamed = ids.filter((id) => !message.includes(id));
      const artifacts = unnamed.length > 0 ? ` (${unnamed.length === 1 ? 'artifact' : 'artifacts'} ${unnamed.join(', ')})` : '';
      return `complete: ${message}${artifacts}`.trimEnd();
    }
    case 'error':
    case 'failed':
      // Its resource_id names what was not made: nothing to look up.
      return `error: ${frame.message ?? 'the run failed'}`;
    case 'media_progress':
      return `media_progress ${frame.modality} ${frame.status}${frame.message ? ` — ${frame.message}` : ''}`;
    case 'media_complete':
      return `media_complete ${frame.modality} ${frame.upload_id} ${frame.file_size} bytes ${frame.mime_type}`;
    default:
      return `${frame.event_type ?? frame.type ?? 'event'} ${JSON.stringify(frame)}`;
  }
}

/** The family a frame is about: `scenario.generation.saved` → scenario. */
export function frameFamily(frame: Frame): string | undefined {
  const prefix = frame.event_type?.split('.generation.')[0];
  if (prefix && prefix !== frame.event_type) return prefix;
  return typeof frame.artifact_type === 'string' ? frame.artifact_type : undefined;
}

/**
 * `[run 3f9c2a7e] `: the run's last 8 hex digits, its random part (run ids are UUIDv7, whose
 * first digits are a timestamp that runs of the same minute share), and its family when it is
 * not the one watched (`[scenario run 3f9c2a7e] `).
 */
export function runLabel(frame: Frame, watched?: string): string {
  if (!frame.run_id) return '';
  const family = frameFamily(frame);
  const hex = String(frame.run_id).replace(/-/g, '');
  return `[${family && family !== watched ? `${family} ` : ''}run ${hex.slice(-8)}] `;
}

/**
 * Prints frames as they arrive: one JSON line each with --json; otherwise readable lines, with
 * progress frames drawn as a bar when stdout is a terminal.
 */
export class FrameDisplay {
  private bars?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;

  /** `labelRuns`: frames of a group watch; `family`: the artifact type watched, left out of the labels. */
  constructor(private readonly output: Output, private readonly options: { labelRuns?: boolean; family?: string } = {}) {}

  show(frame: Frame): void {
    if (this.output.json) {
      this.output.out(JSON.stringify(frame));
      return;
    }
    const label = this.options.labelRuns ? runLabel(frame, this.options.family) : '';
    // Frames carry server text: escaped here too, as the progress bar writes past `output`.
    const line = escapeControls(label + describeFrame(frame));
    if (this.output.tty && frameKind(frame) === 'progress' && typeof frame.total_resources === 'number') {
      this.drawProgress(frame, escapeControls(label));
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

export interface WatchOptions {
  /** Called for every frame; answer true to stop following (a terminal frame was seen). */
  onFrame: (frame: Frame) => boolean;
  /** When to reconnect after the server ended the stream cleanly (src/streaming/follow.ts). */
  reconnectOnEnd: boolean | 'once-streaming';
  /** Start after this event id (a watch resumed by hand). */
  resumeAfter?: string;
}

/**
 * Follows `path` (a watch URL) until onFrame says stop, the stream ends (run streams), or
 * reconnection gives up (src/streaming/follow.ts). The first connection fails loudly (wrong URL,
 * 401, 404); later ones are retried, except a 4xx.
 */
export async function followWatch(client: GlowClient, path: string, options: WatchOptions): Promise<'terminal' | 'ended' | 'already-ended'> {
  try {
    const outcome = await followEvents({
      connect: async (lastEventId) => {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
        const response = await client.ensureOk(await client.send(path, { method: 'GET', headers }));
        const type = response.headers.get('content-type') ?? '';
        if (response.status !== 204 && !type.startsWith('text/event-stream')) {
          await response.body?.cancel().catch(() => undefined);
          throw new CliError(`the server at ${client.instanceUrl} did not answer an event stream to GET ${path.split('?')[0]} (HTTP ${response.status}${type ? `, ${type}` : ''}): is GLOW_INSTANCE_URL (or --instance-url) the address of a Glow server?`);
        }
        return response;
      },
      onEvent: (id, data) => {
        let frame: Frame;
        try {
          frame = JSON.parse(data);
        } catch {
          frame = { event_type: 'unparsed', data };
        }
        // The SSE id, so that a watch can be resumed after it (--last-event-id).
        return options.onFrame(id === undefined ? frame : { event_id: id, ...frame });
      },
      retryable: (error, connectedBefore) => connectedBefore && error instanceof CliError && !(error instanceof ApiError && error.status < 500),
      reconnectOnEnd: options.reconnectOnEnd,
      ...(options.resumeAfter !== undefined ? { resumeAfter: options.resumeAfter } : {}),
    });
    return outcome === 'aborted' ? 'ended' : outcome;
  } catch (error) {
    if (error instanceof StreamLost) throw new CliError(`lost the event stream ${client.url(path)} and could not reconnect after ${error.attempts} attempts`);
    throw error;
  }
}
