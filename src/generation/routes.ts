import { FAMILIES } from '../artifacts/families/index.ts';
import type { ArtifactType } from '../artifacts/types.ts';
import type { ForegroundWork } from '../http/foreground.ts';
import { defineOperation, type Operation } from '../http/operations.ts';
import type { GroupService } from './groups.ts';
import {
  cancelBodySchema, cancelResponseSchema, generateBodySchema, generateResponseSchema, generationsBodySchema, generationsResponseSchema, groupBodySchema,
  groupResponseSchema, watchQuerySchema,
} from './http-schemas.ts';
import type { GenerationService } from './service.ts';
import type { WatchService } from './watch.ts';
import { withArticle } from '../http/wording.ts';

export interface GenerationRouteServices {
  generation: GenerationService;
  /** Requests being served: a wait_for_complete trigger stops counting while it waits for its run. */
  foreground: ForegroundWork;
  groups: GroupService;
  watch: WatchService;
}

const WATCH_DESCRIPTION = [
  'Server-Sent Events. Each frame is `id: <event sequence>` and `data: <event JSON>` (no `event:` line).',
  'With run_id the stream closes after the run\'s terminal event (`.generation.complete` or `.generation.error`), or after 600 s without an event;',
  'with only group_id it multiplexes every run of the group and stays open. A `: keep-alive` comment is sent every 15 s.',
  'Send `Last-Event-ID` (or `?last_event_id=`) to resume after an event: every later event of the scope follows, none twice;',
  'a finished run resumed at or after its terminal event answers 204 No Content (an EventSource then stops reconnecting).',
  'Browsers may pass the token as `?access_token=`.',
].join(' ');

export function generationOperations(services: GenerationRouteServices): Operation[] {
  const operations: Operation[] = [];
  for (const family of Object.values(FAMILIES)) {
    const type: ArtifactType = family.type;
    const common = { tag: type, access: 'member' as const };
    operations.push(
      defineOperation({
        ...common,
        // Generating saves records: a role that cannot write the family is refused before its body is read.
        access: family.writeRole === 'admin' ? 'admin' : 'member',
        method: 'POST',
        path: `/${type}/generate`,
        operationId: `${type}_generate`,
        summary: `Generate ${family.plural} in the background; answers with the run's handles at once`,
        description: `Fire-and-return: writes the run and its job, then answers with {group_id, run_id}. Follow it on GET /${type}/watch?run_id=.`,
        body: generateBodySchema,
        response: generateResponseSchema,
        errors: [400, 403, 404, 409],
        handler: ({ actor, body, reply }) => services.generation.trigger(actor, type, body, () => services.foreground.release(reply.raw)),
      }),
      defineOperation({
        ...common,
        method: 'GET',
        path: `/${type}/watch`,
        operationId: `${type}_watch`,
        summary: `Stream the events of ${withArticle(type)} generation run or group (SSE)`,
        description: WATCH_DESCRIPTION,
        query: watchQuerySchema,
        response: 'event-stream',
        alsoAnswers: { 204: { description: 'A finished run resumed at or after its terminal event: nothing will follow.' } },
        requestHeaders: { 'Last-Event-ID': 'Resume after this event id, with no gap and no duplicate (the same as `?last_event_id=`).' },
        allowQueryToken: true,
        errors: [400, 404],
        handler: async ({ actor, query, request, reply }) => {
          await services.watch.watch(actor, type, query, request, reply);
          return undefined;
        },
      }),
      defineOperation({
        ...common,
        method: 'POST',
        path: `/${type}/cancel`,
        operationId: `${type}_cancel`,
        summary: 'Stop a running generation; it ends with an error event saying it was cancelled',
        body: cancelBodySchema,
        response: cancelResponseSchema,
        errors: [400, 404, 409],
        handler: ({ actor, body }) => services.generation.cancel(actor, type, body.run_id),
      }),
      defineOperation({
        ...common,
        method: 'POST',
        path: `/${type}/generations`,
        operationId: `${type}_generations`,
        summary: `List the generation groups of ${family.plural}, newest first (own groups; admins see the org's)`,
        body: generationsBodySchema,
        response: generationsResponseSchema,
        errors: [400],
        handler: ({ actor, body }) => services.groups.generations(actor, type, body),
      }),
      defineOperation({
        ...common,
        method: 'POST',
        path: `/${type}/group`,
        operationId: `${type}_group`,
        summary: type === 'system' ? 'One generation group: every run with model, tokens and cost, and (include_detail) their messages' : 'One generation group (same as /system/group)',
        body: groupBodySchema,
        response: groupResponseSchema,
        errors: [400, 404],
        handler: ({ actor, body }) => services.groups.group(actor, body),
      }),
    );
  }
  return operations;
}

