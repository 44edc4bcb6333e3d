import type { NewEvent } from '../streaming/event-log.ts';
import { EVENT_TYPE_SUFFIX, TERMINAL_EVENT_TYPES, type GenerationEventType } from './event-types.ts';

export { TERMINAL_EVENT_TYPES };

/** What every event of a run carries besides its own fields. */
export interface RunEnvelope {
  orgId: string;
  groupId: string;
  runId: string;
  artifactType: string;
}

export interface CompletedResource {
  resource_type: string;
  resource_id: string;
  index: number;
  name: string;
}


export function isTerminalPayload(payload: Record<string, unknown>): boolean {
  return TERMINAL_EVENT_TYPES.has(String(payload.type));
}

function event(run: RunEnvelope, type: GenerationEventType, fields: Record<string, unknown>): NewEvent {
  return {
    orgId: run.orgId,
    groupId: run.groupId,
    runId: run.runId,
    artifactType: run.artifactType,
    payload: {
      event_type: `${run.artifactType}.generation.${EVENT_TYPE_SUFFIX[type]}`,
      type,
      artifact_type: run.artifactType,
      group_id: run.groupId,
      run_id: run.runId,
      created_at: new Date().toISOString(),
      ...fields,
    },
  };
}

export const progressEvent = (run: RunEnvelope, completed: number, total: number, last: CompletedResource) =>
  event(run, 'GenerationProgressEvent', {
    completed_resources: completed,
    total_resources: total,
    percentage: Math.floor((completed * 100) / total),
    last_completed_resource: last,
  });

export const savedEvent = (run: RunEnvelope, artifactId: string) => event(run, 'GenerationSavedEvent', { artifact_id: artifactId });

export const completeEvent = (run: RunEnvelope, message: string, artifactIds: string[]) =>
  event(run, 'GenerationCompleteEvent', { success: true, message, artifact_id: artifactIds[0] ?? null, artifact_ids: artifactIds });

export const errorEvent = (run: RunEnvelope, resourceType: string, resourceId: string, message: string, extra: Record<string, unknown> = {}) =>
  event(run, 'GenerationErrorEvent', { ...extra, resource_type: resourceType, resource_id: resourceId, message, success: false });

export type MediaModality = 'image' | 'video' | 'audio';

export const mediaProgressEvent = (run: RunEnvelope, modality: MediaModality, status: 'started' | 'in_progress', message: string, resourceId: string) =>
  event(run, 'GenerationMediaProgressEvent', { modality, status, message, resource_id: resourceId });

export interface MediaCompleteFields {
  modality: MediaModality;
  upload_id: string;
  file_size: number;
  mime_type: string;
  resource_id: string;
}

export const mediaCompleteEvent = (run: RunEnvelope, asset: MediaCompleteFields) => event(run, 'GenerationMediaCompleteEvent', { ...asset });

/** A chat reply streaming in: `text` is the whole reply so far, so a client that joins late still shows it all. */
export const replyProgressEvent = (run: RunEnvelope, text: string, done: boolean) =>
  event(run, 'GenerationProgressEvent', {
    completed_resources: done ? 1 : 0,
    total_resources: 1,
    percentage: done ? 100 : 0,
    last_completed_resource: null,
    text,
  });

const ENVELOPE_ORDER = ['event_type', 'type', 'artifact_type', 'group_id', 'run_id', 'created_at'];

/** The event as a `data:` line: envelope first, then the event's own fields (jsonb storage does not keep key order). */
export function serializeEvent(payload: Record<string, unknown>): string {
  const ordered: Record<string, unknown> = {};
  for (const key of ENVELOPE_ORDER) if (key in payload) ordered[key] = payload[key];
  for (const [key, value] of Object.entries(payload)) if (!(key in ordered)) ordered[key] = value;
  return JSON.stringify(ordered);
}
