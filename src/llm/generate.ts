import { APICallError, generateText, jsonSchema, NoObjectGeneratedError, Output, RetryError, type LanguageModelUsage, type ModelMessage } from 'ai';
import type { Config } from '../config.ts';
import type { FamilyDefinition } from '../artifacts/types.ts';
import { instructionsPrompt } from './offline.ts';
import { describeIssues, extractJson, normalizeToSchema } from './output-repair.ts';
import { artifactOutputSchema, hasOpenObject, outputJsonSchema, strictJsonSchema } from './output-schema.ts';
import { languageModelFor, MissingApiKeyError, ProviderKeyNotAllowedError, type ConcurrencyLimits } from './providers.ts';
import type { ArtifactGenerationRequest, ChatMessage, GeneratedArtifact, ResolvedModel } from './types.ts';
import { ModelCallError, ModelOutputError } from './types.ts';

/** Re-asks after the first answer when it cannot be used: the contract allows two. */
export const MAX_REASKS = 2;
/** Retries of one call on 429/5xx, with the SDK's exponential backoff (2 s, 4 s) honouring Retry-After. */
export const MAX_RETRIES = 2;

export function generationSystemPrompt(family: FamilyDefinition, schemaInPrompt?: object): string {
  const lines = [
    `You are generating a ${family.type} for Glow, a platform where educators author AI role-play practice for their learners.`,
    `Artifact type: ${family.type}`,
    `A ${family.type} is: ${family.summary}`,
    'Follow the instructions. Where they leave something open, make realistic choices an educator would make; never leave placeholders.',
    'Answer with one JSON object {"name", "description", "data"}, where data follows the schema; each field\'s description says what it holds.',
  ];
  if (schemaInPrompt) {
    lines.push(
      'Reply with the JSON object only: no markdown fence, no comments, no text before or after it. Omit optional fields you do not use rather than writing null.',
      'JSON schema of the reply:',
      JSON.stringify(schemaInPrompt),
    );
  }
  return lines.join('\n');
}

function toModelMessages(messages: ChatMessage[]): ModelMessage[] {
  return messages.map((message) => (message.role === 'assistant'
    ? { role: 'assistant', content: message.text }
    : message.role === 'user' ? { role: 'user', content: message.text } : { role: 'system', content: message.text }));
}

export function usageTokens(usage: LanguageModelUsage | undefined): { input: number; output: number } {
  return { input: usage?.inputTokens ?? 0, output: usage?.outputTokens ?? 0 };
}

/** A signal that fires when the caller aborts or when the call has run for `timeoutMs`. */
export function callSignal(timeoutMs: number, callerSignal: AbortSignal | undefined): { signal: AbortSignal; timeout: AbortSignal } {
  const timeout = AbortSignal.timeout(timeoutMs);
  return { signal: callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout, timeout };
}

/**
 * Maps a failed call to what the caller can act on: the caller's own abort rejects with its
 * reason; a timeout, a refusal after retries, or a missing key is a ModelCallError.
 */
export function callFailure(
  error: unknown,
  model: ResolvedModel,
  signals: { timeout: AbortSignal; caller: AbortSignal | undefined },
  conversation: { messages: ChatMessage[]; inputTokens: number; outputTokens: number },
): unknown {
  if (signals.caller?.aborted) return signals.caller.reason ?? error;
  const { messages, inputTokens, outputTokens } = conversation;
  if (signals.timeout.aborted) {
    return new ModelCallError(`The model ${model.modelName} did not answer within ${model.timeoutMs} ms.`, 'timeout', messages, inputTokens, outputTokens, { cause: error });
  }
  if (error instanceof MissingApiKeyError || error instanceof ProviderKeyNotAllowedError) return new ModelCallError(error.message, 'configuration', messages, inputTokens, outputTokens, { cause: error });
  const last = RetryError.isInstance(error) ? error.lastError : error;
  if (APICallError.isInstance(last)) {
    const retried = RetryError.isInstance(error) ? ` after ${error.errors.length} attempts` : '';
    return new ModelCallError(
      `The model provider answered ${last.statusCode ?? 'with an error'}${retried}: ${last.message}`,
      'provider', messages, inputTokens, outputTokens, { cause: error, ...(last.statusCode !== undefined ? { status: last.statusCode } : {}) },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ModelCallError(`The call to ${model.modelName} failed: ${message}`, 'provider', messages, inputTokens, outputTokens, { cause: error });
}

type Validation =
  | { ok: true; value: { name: string; description: string; data: Record<string, unknown> } }
  | { ok: false; problem: string };

async function validateOutput(text: string, family: FamilyDefinition): Promise<Validation> {
  const parsed = await extractJson(text);
  if (!parsed.ok) return { ok: false, problem: parsed.error };
  const schema = artifactOutputSchema(family);
  const normalized = normalizeToSchema(parsed.value, schema);
  const result = schema.safeParse(normalized);
  if (result.success) return { ok: true, value: result.data as { name: string; description: string; data: Record<string, unknown> } };
  return { ok: false, problem: `The JSON does not match the schema:\n${describeIssues(result.error)}` };
}

export async function generateWithModel(request: ArtifactGenerationRequest, config: Config, limits: ConcurrencyLimits): Promise<GeneratedArtifact> {
  const { family, model } = request;
  const fullSchema = outputJsonSchema(family);
  // Map-like fields cannot be expressed in strict mode; such a family is prompted like a plain server.
  const structured = model.providerKind !== 'openai_compatible' || model.supportsStructuredOutputs === true;
  const useResponseFormat = structured && !hasOpenObject(fullSchema);
  const system = generationSystemPrompt(family, useResponseFormat ? undefined : fullSchema);
  const messages: ChatMessage[] = [
    { role: 'system', text: system },
    { role: 'user', text: instructionsPrompt(request) },
  ];
  const totals = { inputTokens: 0, outputTokens: 0 };
  let lastText = '';
  let lastProblem = '';

  for (let attempt = 0; attempt <= MAX_REASKS; attempt += 1) {
    const signals = callSignal(model.timeoutMs, request.signal);
    let text: string;
    try {
      const languageModel = languageModelFor(model, config);
      const reply = await limits.run(model, async () => {
        try {
          const result = await generateText({
            model: languageModel,
            system,
            messages: toModelMessages(messages.slice(1)),
            ...(useResponseFormat ? { output: Output.object({ schema: jsonSchema(strictJsonSchema(fullSchema)), name: family.type }) } : {}),
            ...(model.maxOutputTokens ? { maxOutputTokens: model.maxOutputTokens } : {}),
            maxRetries: MAX_RETRIES,
            abortSignal: signals.signal,
          });
          return { text: result.text, usage: usageTokens(result.usage) };
        } catch (error) {
          // The SDK's own JSON check failed; the text is still ours to repair.
          if (NoObjectGeneratedError.isInstance(error)) return { text: error.text ?? '', usage: usageTokens(error.usage) };
          throw error;
        }
      });
      text = reply.text;
      totals.inputTokens += reply.usage.input;
      totals.outputTokens += reply.usage.output;
    } catch (error) {
      throw callFailure(error, model, { timeout: signals.timeout, caller: request.signal }, { messages, ...totals });
    }

    messages.push({ role: 'assistant', text });
    lastText = text;
    const validation = await validateOutput(text, family);
    if (validation.ok) {
      return { ...validation.value, messages, inputTokens: totals.inputTokens, outputTokens: totals.outputTokens };
    }
    lastProblem = validation.problem;
    if (attempt < MAX_REASKS) {
      messages.push({
        role: 'user',
        text: `Your reply could not be used. ${validation.problem}\nReply again with the corrected JSON object only, following the schema.`,
      });
    }
  }
  throw new ModelOutputError(
    `The model did not produce a valid ${family.type} in ${MAX_REASKS + 1} replies (the first, then ${MAX_REASKS} re-asks quoting the problem). ${lastProblem}`,
    messages, lastText, totals.inputTokens, totals.outputTokens,
  );
}
