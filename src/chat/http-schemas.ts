import { z } from 'zod';
import { uuid } from '../ids.ts';

const uploadIds = (kind: string) =>
  z.array(uuid()).max(20).optional().describe(`The upload_id of each ${kind} upload sent with this turn (upload first, then send the ids).`);

export const startAttemptBodySchema = z.strictObject({
  simulation_id: uuid().describe('The simulation to practise: its persona, scenario and rubric are copied onto the attempt.'),
});
export type StartAttemptBody = z.infer<typeof startAttemptBodySchema>;

export const endAttemptBodySchema = z.strictObject({
  attempt_id: uuid().describe('The attempt to end (only its learner, or an org admin, may end it).'),
});
export type EndAttemptBody = z.infer<typeof endAttemptBodySchema>;

export const chatMessageBodySchema = z
  .strictObject({
    attempt_id: uuid().describe('The attempt this turn belongs to (only its learner, or an org admin, may send).'),
    text: z.string().trim().min(1).max(20_000).optional().describe('What the learner says. Leave out for an audio-only turn: it is transcribed when a speech-to-text model is configured.'),
    text_upload_ids: uploadIds('text'),
    audio_upload_ids: uploadIds('audio'),
    image_upload_ids: uploadIds('image'),
    video_upload_ids: uploadIds('video'),
    file_upload_ids: uploadIds('file'),
    idempotency_key: uuid().optional().describe('A retry with the same key and body returns the first answer and stores no second turn; another body is 409.'),
  })
  .superRefine((body, context) => {
    const hasUploads = [body.text_upload_ids, body.audio_upload_ids, body.image_upload_ids, body.video_upload_ids, body.file_upload_ids].some((ids) => (ids?.length ?? 0) > 0);
    if (body.text === undefined && !hasUploads) context.addIssue({ code: 'custom', path: ['text'], message: 'is required unless an upload id is given' });
  });
export type ChatMessageBody = z.infer<typeof chatMessageBodySchema>;

export const chatMessageResponseSchema = z.strictObject({
  message_id: uuid().describe("The learner's stored turn."),
  run_id: uuid().describe("The persona's reply: follow it on GET /attempt/watch?run_id= (progress frames carry `text`, the reply so far)."),
  group_id: uuid().describe("The attempt's group: both turns appear in its detail (POST /system/group)."),
});
export type ChatMessageResponse = z.infer<typeof chatMessageResponseSchema>;
