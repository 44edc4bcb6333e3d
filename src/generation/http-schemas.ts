import { z } from 'zod';
import { pageSchema } from '../artifacts/http-schemas.ts';
import { uuid } from '../ids.ts';

export const MODALITIES = ['text', 'image', 'video', 'audio'] as const;
export type Modality = (typeof MODALITIES)[number];

const modalitySchema = z.enum(MODALITIES);
const modalityOrList = z.union([modalitySchema, z.array(modalitySchema).min(1).max(4)]);

export const MAX_RESOURCES_PER_RUN = 10;

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

export const generateParamsSchema = z.strictObject({
  count: z.number().int().min(1).max(MAX_RESOURCES_PER_RUN).optional()
    .describe(`How many artifacts this run produces, 1..${MAX_RESOURCES_PER_RUN} (default 1).`),
  model_id: z.string().min(1).max(200).optional()
    .describe('The model to use: a `model` artifact id, or "offline" for the built-in generator. Default: the org\'s default model.'),
  agent_id: uuid().optional()
    .describe('The agent on whose behalf the run is made; recorded on the run.'),
  artifact_id: uuid().optional()
    .describe('With an image, video or audio modality: attach the produced media to this existing record instead of generating a new one (no saved event).'),
  image_model_id: z.string().min(1).max(200).optional()
    .describe('The image model for image and video frames: a `model` artifact with purpose image, or "offline". Default: the org\'s default image model.'),
  speech_model_id: z.string().min(1).max(200).optional()
    .describe('The text-to-speech model for audio and video narration: a `model` artifact with purpose speech, or "offline". Default: the org\'s default speech model.'),
});

/** The generate parameters that only a run making some kind of media uses. */
const MEDIA_PARAMS: { field: 'image_model_id' | 'speech_model_id' | 'artifact_id'; makes: string; kinds: Modality[] }[] = [
  { field: 'image_model_id', makes: 'image and video generation', kinds: ['image', 'video'] },
  { field: 'speech_model_id', makes: 'audio and video generation', kinds: ['audio', 'video'] },
  { field: 'artifact_id', makes: 'image, video and audio generation (the media is attached to that record)', kinds: ['image', 'video', 'audio'] },
];

export const generateBodySchema = z
  .strictObject({
    instructions: z.array(z.string().trim().min(1).max(20_000)).max(50).optional().describe('What the user wants.'),
    config: z
      .strictObject({
        operations: z.array(z.string().min(1).max(100)).max(20).optional().describe('Operations the server may perform; recorded with the run.'),
        params: generateParamsSchema.optional().describe('Generation parameters: the fields below.'),
        dangerous: z.boolean().optional().describe('Recorded with the run. Generation here only creates records and media, so no operation waits on it.'),
        group_id: uuid().optional().describe('Same as the top-level group_id.'),
      })
      .optional()
      .describe('Run options: operations, params, dangerous and group_id.'),
    group_id: uuid().optional().describe('Run inside this group. Default: the caller\'s current window for this family.'),
    client_run_id: uuid()
      // Every client that sends a placeholder would share it (409 for all but the first, whatever their org).
      .refine((id) => id !== NIL_UUID && id !== MAX_UUID, 'must be a freshly minted UUID, not the nil or max UUID')
      .optional()
      .describe('Run id minted by the client (a random UUID, e.g. crypto.randomUUID()), so it can open /watch before triggering. Reusing one is 409.'),
    modality: modalityOrList.optional(),
    modalities: modalityOrList.optional(),
    title: z.string().min(1).max(200).optional().describe('Given to the model with the instructions; the display name of the produced media asset (image, video or speech); and the group\'s name if this run starts a new group (a run inside the session\'s group window joins its open group).'),
    audio: z.union([z.strictObject({ audios_id: uuid() }), z.strictObject({ upload_id: uuid() })]).optional()
      .describe('Spoken instructions: an audio upload you may read. Transcribed when the org has a speech-to-text model and added to the instructions; kept with the run\'s messages either way.'),
    idempotency_key: uuid().optional().describe('A repeat with the same body returns the first response; another body is 409.'),
    wait_for_complete: z.boolean().optional().describe('Block until the run ends and fill produced_media (default false).'),
  })
  .superRefine((body, context) => {
    if ((body.instructions?.length ?? 0) === 0 && body.modality === undefined && body.modalities === undefined) {
      context.addIssue({ code: 'custom', path: ['instructions'], message: 'is required unless a modality is given' });
    }
    const asSet = (value: Modality | Modality[] | undefined) => [...new Set(Array.isArray(value) ? value : value === undefined ? [] : [value])].sort().join(',');
    if (body.modality !== undefined && body.modalities !== undefined && asSet(body.modality) !== asSet(body.modalities)) {
      context.addIssue({ code: 'custom', path: ['modalities'], message: 'differs from modality; give one of them (either takes one modality or a list)' });
    }
    // A media parameter on a run that makes no such media would be ignored without a word.
    const params = body.config?.params;
    if (params) {
      const modalities = [...new Set([body.modality ?? body.modalities ?? []].flat())].sort();
      for (const { field, makes, kinds } of MEDIA_PARAMS) {
        if (params[field] === undefined || kinds.some((kind) => modalities.includes(kind))) continue;
        const message = `applies to ${makes} only; this run's modality is ${modalities.join(' and ') || 'text (none given)'}`;
        context.addIssue({ code: 'custom', path: ['config', 'params', field], message });
      }
    }
    if (body.group_id && body.config?.group_id && body.group_id !== body.config.group_id) {
      context.addIssue({ code: 'custom', path: ['group_id'], message: 'differs from config.group_id; give one group' });
    }
  });
export type GenerateBody = z.infer<typeof generateBodySchema>;

export const producedMediaSchema = z.strictObject({
  modality: z.string(),
  upload_id: uuid(),
  resource_id: z.string(),
  mime_type: z.string(),
  file_size: z.number().int(),
});
export type ProducedMedia = z.infer<typeof producedMediaSchema>;

export const generateResponseSchema = z.strictObject({
  group_id: uuid(),
  run_id: uuid(),
  produced_media: z.array(producedMediaSchema),
  idempotency_key: uuid().optional(),
  status: z.enum(['completed', 'error', 'cancelled']).optional().describe('With wait_for_complete: how the run ended.'),
  message: z.string().optional().describe("With wait_for_complete: the terminal event's message (why it failed, or what it saved)."),
});
export type GenerateResponse = z.infer<typeof generateResponseSchema>;

export const watchQuerySchema = z
  .strictObject({
    run_id: uuid().optional().describe('Stream this run; it may be a client_run_id not triggered yet. Closes after the terminal event.'),
    group_id: uuid().optional().describe('Stream every run of this group; stays open.'),
    last_event_id: z.string().regex(/^(\d{1,18})?$/, 'must be an event id: the digits of a frame\'s id: line').optional().describe('Resume after this event id (same as the Last-Event-ID header).'),
    access_token: z.string().min(1).optional().describe('The token, for clients that cannot send headers (EventSource).'),
  })
  .refine((query) => query.run_id !== undefined || query.group_id !== undefined, { message: 'is required unless group_id is given (give run_id, group_id or both)', path: ['run_id'] });
export type WatchQuery = z.infer<typeof watchQuerySchema>;

export const cancelBodySchema = z.strictObject({ run_id: uuid().describe('The run to stop: the run_id its trigger answered with (a client_run_id is that id).') });
export const cancelResponseSchema = z.strictObject({
  run_id: uuid(),
  status: z.enum(['cancelled', 'cancelling']).describe('cancelled: it had not started; cancelling: the running call is being aborted and the error event follows.'),
});

const ISO_DATE = z.iso.date();
const ISO_DATE_TIME = z.iso.datetime({ offset: true, local: true });
const HAS_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const isBareDate = (text: string) => ISO_DATE.safeParse(text).success;
const isDateOrDateTime = (text: string) => isBareDate(text) || ISO_DATE_TIME.safeParse(text).success;

// Date.parse alone would take "1", "12/03/2026" or "2026-02-30", and read a date-time without an offset in the server's zone.
const dateOrDateTime = z
  .string()
  .max(40)
  .refine(isDateOrDateTime, {
    message: 'must be a real ISO 8601 date (2026-12-03) or date-time (2026-12-03T09:30:00Z; without an offset it is UTC)',
  });

/** A checked date or date-time as an instant: a bare date is its day's start, a date-time without an offset is UTC. */
function instantOf(text: string): number {
  return Date.parse(isBareDate(text) || HAS_OFFSET.test(text) ? text : `${text}Z`);
}

/** The instants a generations listing spans: a bare date_from is its day's start, a bare date_to its day's end (UTC). */
export function generationsWindow(body: { date_from?: string | undefined; date_to?: string | undefined }): { from?: Date; to?: Date } {
  return {
    ...(body.date_from ? { from: new Date(instantOf(body.date_from)) } : {}),
    ...(body.date_to ? { to: new Date(isBareDate(body.date_to) ? instantOf(body.date_to) + 86_400_000 - 1 : instantOf(body.date_to)) } : {}),
  };
}

export const generationsBodySchema = z
  .strictObject({
    search: z.string().max(200).optional().describe("Text to find, case-insensitively, in the group's name or in the instructions or title of any of its runs."),
    date_from: dateOrDateTime.optional().describe('Groups created at or after this instant (a bare date means its start, UTC).'),
    date_to: dateOrDateTime.optional().describe('Groups created at or before this instant (a bare date includes that whole day, UTC).'),
    ...pageSchema,
  })
  .superRefine((body, context) => {
    if (!body.date_from || !body.date_to || !isDateOrDateTime(body.date_from) || !isDateOrDateTime(body.date_to)) return;
    const { from, to } = generationsWindow(body);
    if (from! > to!) context.addIssue({ code: 'custom', path: ['date_to'], message: `is before date_from (${body.date_from}); an empty window is surely a mistake` });
  });
export type GenerationsBody = z.infer<typeof generationsBodySchema>;

export const generationsResponseSchema = z.strictObject({
  items: z.array(z.strictObject({ group_id: uuid(), group_name: z.string(), profile_id: uuid().describe('Whose group it is: the profile whose runs it holds.'), session_id: uuid(), created_at: z.string() })),
  total_count: z.number().int(),
});
export type GenerationsResponse = z.infer<typeof generationsResponseSchema>;

export const groupBodySchema = z.strictObject({
  group_id: uuid().describe('The group to show: a group_id from a trigger, watch frame or generations item.'),
  include_detail: z.boolean().optional().describe('Include each run\'s messages (default false: runs only, messages empty).'),
  message_limit: z.number().int().min(1).max(1000).optional().describe('Messages per page across the group, oldest first (default 200).'),
  message_offset: z.number().int().min(0).optional().describe('Messages to skip before the page (default 0).'),
});
export type GroupBody = z.infer<typeof groupBodySchema>;

export const groupMessageSchema = z.strictObject({
  id: uuid(),
  role: z.enum(['system', 'user', 'assistant']),
  created_at: z.string(),
  text: z.string(),
  text_upload_ids: z.array(uuid()),
  audio_upload_ids: z.array(uuid()),
  image_upload_ids: z.array(uuid()),
  video_upload_ids: z.array(uuid()),
  file_upload_ids: z.array(uuid()),
});
export type GroupMessage = z.infer<typeof groupMessageSchema>;

export const groupRunSchema = z.strictObject({
  id: uuid(),
  artifact_type: z.string(),
  status: z.enum(['queued', 'running', 'completed', 'error', 'cancelled']),
  created_at: z.string(),
  ended_at: z.string().nullable(),
  model_id: z.string().nullable(),
  agent_id: uuid().nullable(),
  profile_id: uuid(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost: z.number(),
  error: z.string().nullable().describe('Why the run ended in error or was cancelled (its error event\'s message); null otherwise.'),
  messages: z.array(groupMessageSchema),
});
export type GroupRun = z.infer<typeof groupRunSchema>;

export const groupResponseSchema = z.strictObject({
  group_id: uuid(),
  name: z.string(),
  artifact_type: z.string(),
  session_id: uuid(),
  profile_id: uuid(),
  created_at: z.string(),
  runs: z.array(groupRunSchema),
  message_total_count: z.number().int().describe('Messages in the group (for paging with message_limit/message_offset).'),
});
export type GroupResponse = z.infer<typeof groupResponseSchema>;
