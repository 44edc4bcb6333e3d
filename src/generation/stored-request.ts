import type { GenerateBody, Modality } from './http-schemas.ts';

/** What a worker needs from the trigger, as kept on the run row (`request`). */
export interface StoredRequest {
  body: GenerateBody;
  instructions: string[];
  title?: string;
  count: number;
  modelId?: string;
  modalities: Modality[];
  /**
   * Set on runs another concern defines (a chat reply): the kind names the handler registered with
   * RunExecutor.registerHandler, `input` is that concern's own. `body` then holds the request that
   * started it, for the call record.
   */
  handler?: { kind: string; input: Record<string, unknown> };
}

export function storedRequest(body: GenerateBody): StoredRequest {
  const asList = (value: GenerateBody['modality']) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
  const modalities = [...new Set([...asList(body.modality), ...asList(body.modalities)])];
  return {
    body,
    instructions: body.instructions ?? [],
    ...(body.title !== undefined ? { title: body.title } : {}),
    count: body.config?.params?.count ?? 1,
    ...(body.config?.params?.model_id !== undefined ? { modelId: body.config.params.model_id } : {}),
    modalities: modalities.length > 0 ? modalities : ['text'],
  };
}
