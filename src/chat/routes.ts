import { recordSchema } from '../artifacts/http-schemas.ts';
import { attemptFamily } from '../artifacts/families/attempt.ts';
import { defineOperation, type Operation } from '../http/operations.ts';
import { chatMessageBodySchema, chatMessageResponseSchema, endAttemptBodySchema, startAttemptBodySchema } from './http-schemas.ts';
import type { ChatService } from './service.ts';

export function chatOperations(chat: ChatService): Operation[] {
  return [
    defineOperation({
      method: 'POST',
      path: '/attempt/start',
      operationId: 'attempt_start',
      summary: 'Start practising a simulation: a new attempt of the caller, with the group that will hold its turns',
      description: "The attempt's data holds the simulation, persona, scenario and rubric ids and its group_id. 409 once the caller has the simulation's max_attempts attempts.",
      tag: 'attempt',
      access: 'member',
      body: startAttemptBodySchema,
      response: recordSchema(attemptFamily),
      errors: [400, 404, 409],
      handler: ({ actor, body }) => chat.start(actor, body),
    }),
    defineOperation({
      method: 'POST',
      path: '/attempt/chat_message',
      operationId: 'attempt_chat_message',
      summary: "Send the learner's turn (text and upload ids); the persona's reply is a run to follow on /attempt/watch",
      description: [
        'Upload first (attempt/audio_upload, scenario/image_upload, ...), then send the upload ids; each must be visible to the caller (else 404) and of the field\'s kind (else 400).',
        'Answers at once with {message_id, run_id, group_id}. The reply streams on GET /attempt/watch?run_id= as progress frames whose `text` is the reply so far,',
        'then (when the persona has a voice) media frames for its speech, then complete. Only the attempt\'s learner and org admins may send.',
      ].join(' '),
      tag: 'attempt',
      access: 'member',
      body: chatMessageBodySchema,
      response: chatMessageResponseSchema,
      errors: [400, 404, 409],
      handler: ({ actor, body }) => chat.sendMessage(actor, body),
    }),
    defineOperation({
      method: 'POST',
      path: '/attempt/end',
      operationId: 'attempt_end',
      summary: 'End an attempt in progress: the learner is done before max_turns or the time limit',
      description: 'The attempt becomes completed with ended_at now; a reply still streaming finishes. 409 when it has already ended. Only its learner and org admins may end it.',
      tag: 'attempt',
      access: 'member',
      body: endAttemptBodySchema,
      response: recordSchema(attemptFamily),
      errors: [400, 404, 409],
      handler: ({ actor, body }) => chat.end(actor, body),
    }),
  ];
}
