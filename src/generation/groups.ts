import type { Database } from '../db/database.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import { notFound } from '../http/errors.ts';
import type { Actor } from '../identity/actor.ts';
import { readRunEvents } from '../streaming/event-log.ts';
import { generationsWindow, type GenerationsBody, type GroupBody, type GroupMessage, type GroupResponse, type GroupRun } from './http-schemas.ts';
import { canSee } from './service.ts';
import { findGroup, findRun, listGroups, messagesOfGroup, messagesOfRun, runsOfGroup, terminalMessages, type MessageRow, type RunRow } from './store.ts';

const iso = (value: Date | string) => new Date(value).toISOString();

function toMessage(row: MessageRow): GroupMessage {
  return {
    id: row.id,
    role: row.role,
    created_at: iso(row.created_at),
    text: row.text,
    text_upload_ids: row.text_upload_ids ?? [],
    audio_upload_ids: row.audio_upload_ids ?? [],
    image_upload_ids: row.image_upload_ids ?? [],
    video_upload_ids: row.video_upload_ids ?? [],
    file_upload_ids: row.file_upload_ids ?? [],
  };
}

function toRun(row: RunRow, messages: GroupMessage[], error: string | null): GroupRun {
  return {
    id: row.id,
    artifact_type: row.artifact_type,
    status: row.status,
    created_at: iso(row.created_at),
    ended_at: row.ended_at ? iso(row.ended_at) : null,
    model_id: row.model_id,
    agent_id: row.agent_id,
    profile_id: row.profile_id,
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    cost: Number(row.cost),
    error,
    messages,
  };
}

/** The read side of generation: listings of groups, a group's runs and messages, one run's record. */
export class GroupService {
  constructor(private readonly database: Database) {}

  async generations(actor: Actor, type: ArtifactType, body: GenerationsBody) {
    const { from, to } = generationsWindow(body);
    const { rows, total } = await listGroups(this.database.db, {
      orgId: actor.orgId,
      artifactType: type,
      ...(actor.role === 'admin' ? {} : { profileId: actor.profileId }),
      ...(body.search ? { search: body.search } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      limit: body.page_limit ?? 50,
      offset: body.page_offset ?? 0,
    });
    return {
      items: rows.map((row) => ({ group_id: row.id, group_name: row.name, profile_id: row.profile_id, session_id: row.session_id, created_at: iso(row.created_at) })),
      total_count: total,
    };
  }

  async group(actor: Actor, body: GroupBody): Promise<GroupResponse> {
    const group = await findGroup(this.database.db, body.group_id);
    if (!group || !canSee(actor, group)) throw notFound('generation group', body.group_id);
    const runs = await runsOfGroup(this.database.db, group.id);
    const visibleRuns = actor.role === 'admin' ? runs : runs.filter((run) => run.profile_id === actor.profileId);
    const byRun = new Map<string, GroupMessage[]>(visibleRuns.map((run) => [run.id, []]));
    let messageTotal = 0;
    const counted = await messagesOfGroup(this.database.db, group.id, body.include_detail ? body.message_limit ?? 200 : 0, body.message_offset ?? 0);
    messageTotal = counted.total;
    if (body.include_detail) for (const row of counted.rows) byRun.get(row.run_id)?.push(toMessage(row));
    const failed = visibleRuns.filter((run) => (run.status === 'error' || run.status === 'cancelled') && run.terminal_event_seq !== null);
    const errors = await terminalMessages(this.database.db, failed.map((run) => Number(run.terminal_event_seq)));
    return {
      group_id: group.id,
      name: group.name,
      artifact_type: group.artifact_type,
      session_id: group.session_id,
      profile_id: group.profile_id,
      created_at: iso(group.created_at),
      runs: visibleRuns.map((run) => toRun(run, byRun.get(run.id) ?? [], run.terminal_event_seq === null ? null : errors.get(Number(run.terminal_event_seq)) ?? null)),
      message_total_count: messageTotal,
    };
  }

  /** Everything about one run (request, messages, model output, events) for `call_download`. */
  async callRecord(actor: Actor, runId: string): Promise<Record<string, unknown> | undefined> {
    const run = await findRun(this.database.db, runId);
    if (!run || !canSee(actor, run)) return undefined;
    const [messages, events] = await Promise.all([messagesOfRun(this.database.db, runId), readRunEvents(this.database.db, runId)]);
    return {
      run_id: run.id,
      group_id: run.group_id,
      artifact_type: run.artifact_type,
      status: run.status,
      profile_id: run.profile_id,
      session_id: run.session_id,
      request: (run.request as { body?: unknown }).body ?? run.request,
      model_id: run.model_id,
      agent_id: run.agent_id,
      input_tokens: run.input_tokens,
      output_tokens: run.output_tokens,
      cost: Number(run.cost),
      attempts: run.attempts,
      created_at: iso(run.created_at),
      started_at: run.started_at ? iso(run.started_at) : null,
      ended_at: run.ended_at ? iso(run.ended_at) : null,
      messages: messages.map(toMessage),
      events: events.map((event) => ({ id: String(event.seq), ...event.payload })),
    };
  }
}
