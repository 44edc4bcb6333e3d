import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { badRequest, notFound } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import type { EventHub } from '../streaming/hub.ts';
import { lastIssuedSeq, type StoredEvent } from '../streaming/event-log.ts';
import { SseStream, sseFrame, type SseStreams } from '../streaming/sse.ts';
import { isTerminalPayload, serializeEvent } from './events.ts';
import type { WatchQuery } from './http-schemas.ts';
import { canSee, canSeeRunAs } from './service.ts';
import { findGroup, findRun, type RunRow } from './store.ts';

/** A run-scoped stream with no event for this long closes (the contract's idle cut-off). */
export const RUN_STREAM_IDLE_CUTOFF_MS = 600_000;

function resumePosition(request: FastifyRequest, query: WatchQuery): number {
  const header = request.headers['last-event-id'];
  const text = (Array.isArray(header) ? header[0] : header) ?? query.last_event_id;
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,18}$/.test(text.trim())) throw badRequest(`Last-Event-ID must be an event id this server sent (digits), not ${JSON.stringify(text)}.`);
  return Number(text.trim());
}

const frames = new WeakMap<StoredEvent, string>();

/** The SSE frame of an event, built once per delivered event object (the hub hands the same object to every watcher of its group). */
function frameOf(event: StoredEvent): string {
  let frame = frames.get(event);
  if (frame === undefined) {
    frame = sseFrame(event.seq, serializeEvent(event.payload));
    frames.set(event, frame);
  }
  return frame;
}

/** `GET /<art>/watch`: checks what the caller may see, then streams the hub's events as SSE. */
export class WatchService {
  constructor(
    private readonly database: Database,
    private readonly hub: EventHub,
    private readonly streams: SseStreams,
  ) {}

  /** `GET /<type>/watch`: a run of another family is not found under this one. */
  async watch(actor: Actor, type: string, query: WatchQuery, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const afterSeq = resumePosition(request, query);
    const db = this.database.db;
    if (query.group_id) {
      const group = await findGroup(db, query.group_id);
      // Not checked against the family: a group may hold runs of several (an explicit group_id), and its stream carries them all.
      if (!group || !canSee(actor, group)) throw notFound('generation group', query.group_id);
    }
    const runId = query.run_id;
    const runRefused = (run: RunRow) => !canSeeRunAs(actor, type, run) || (query.group_id !== undefined && run.group_id !== query.group_id);
    let knownGroupId: string | undefined;
    let alreadySeenEnd = false;
    // A run the caller may not see is watched as an id nobody has triggered: the stream waits and
    // never carries it, so whether it exists is not told (the contract's 404 for ids one may not
    // see never says "exists"; an unknown run_id waits).
    let hidden = false;
    if (runId) {
      const run = await findRun(db, runId);
      if (run && !canSee(actor, run)) hidden = true;
      else if (run) {
        if (runRefused(run)) throw notFound(`${type} run`, runId);
        knownGroupId = run.group_id;
        // Resumed at or after the terminal event of a finished run: nothing will ever follow.
        alreadySeenEnd = run.terminal_event_seq !== null && afterSeq >= Number(run.terminal_event_seq);
      }
    } else {
      knownGroupId = query.group_id;
    }

    if (alreadySeenEnd) {
      // 204: by the SSE standard an EventSource stops reconnecting, where a 200 that closed would have it retry forever.
      await reply.code(204).send();
      return;
    }
    // Resumed after an event that was never sent (an id from another server's database, or made up): what follows would be skipped.
    if (afterSeq > 0 && afterSeq > (await lastIssuedSeq(db))) {
      throw badRequest(`Last-Event-ID ${afterSeq} is ahead of every event this server has sent; reconnect without it to follow from the start.`);
    }
    reply.hijack();
    const stream = new SseStream(reply.raw, runId ? { idleCutoffMs: RUN_STREAM_IDLE_CUTOFF_MS } : {});
    stream.open();
    this.streams.add(stream);

    let attached = false;
    const attach = (groupId: string) => {
      if (attached || stream.isClosed) return;
      attached = true;
      const subscription = this.hub.subscribe({ groupId, ...(runId ? { runId } : {}) }, afterSeq, (events) => {
        // One write per delivery; a frame is built once and shared by every watcher of the group.
        let frames = '';
        for (const event of events) {
          frames += frameOf(event);
          if (runId && isTerminalPayload(event.payload)) {
            stream.sendFrames(frames);
            stream.end();
            return;
          }
        }
        stream.sendFrames(frames);
      });
      stream.onClose(() => subscription.close());
    };

    if (knownGroupId) {
      attach(knownGroupId);
      return;
    }
    if (hidden) return;
    // A client_run_id announced but not triggered yet: wait for its first event (bounded by the idle cut-off).
    const attachIfVisible = async () => {
      const run = await findRun(db, runId!);
      if (!run || attached) return;
      // Another's run under this id, triggered while waiting: still nothing to tell.
      if (!canSee(actor, run)) return;
      if (runRefused(run)) {
        stream.end();
        return;
      }
      attach(run.group_id);
    };
    const stopWaiting = this.hub.waitForRun(runId!, () => void attachIfVisible().catch(() => stream.end()));
    stream.onClose(stopWaiting);
    await attachIfVisible().catch(() => stream.end());
  }
}
