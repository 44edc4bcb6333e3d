import { streamText, type ModelMessage } from 'ai';
import type { Config } from '../config.ts';
import { callFailure, callSignal, MAX_RETRIES, usageTokens } from './generate.ts';
import { languageModelFor, type ConcurrencyLimits } from './providers.ts';
import type { ChatMessage, ChatReply, ChatReplyRequest } from './types.ts';

/** Vendors take one system prompt; system turns in the history join it rather than being dropped. */
function splitSystem(system: string, messages: ChatMessage[]): { system: string; conversation: ModelMessage[] } {
  const extraSystem = messages.filter((message) => message.role === 'system').map((message) => message.text);
  const conversation: ModelMessage[] = messages
    .filter((message) => message.role !== 'system')
    .map((message): ModelMessage => {
      if (message.role === 'assistant') return { role: 'assistant', content: message.text };
      if (!message.images?.length) return { role: 'user', content: message.text };
      return {
        role: 'user',
        content: [{ type: 'text', text: message.text }, ...message.images.map((image) => ({ type: 'image' as const, image: image.data, mediaType: image.mediaType }))],
      };
    });
  return { system: [system, ...extraSystem].filter((text) => text.trim().length > 0).join('\n\n'), conversation };
}

export async function chatWithModel(request: ChatReplyRequest, config: Config, limits: ConcurrencyLimits): Promise<ChatReply> {
  const { model } = request;
  const { system, conversation } = splitSystem(request.system, request.messages);
  const signals = callSignal(model.timeoutMs, request.signal);
  let text = '';
  let usage = { input: 0, output: 0 };
  try {
    const languageModel = languageModelFor(model, config);
    await limits.run(model, async () => {
      const result = streamText({
        model: languageModel,
        ...(system ? { system } : {}),
        messages: conversation,
        ...(model.maxOutputTokens ? { maxOutputTokens: model.maxOutputTokens } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        maxRetries: MAX_RETRIES,
        abortSignal: signals.signal,
        // Errors are rethrown from the loop below; the SDK's default handler would only log them.
        onError: () => {},
      });
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta' && part.text.length > 0) {
          text += part.text;
          request.onText?.(text);
        } else if (part.type === 'error') {
          throw part.error;
        } else if (part.type === 'abort') {
          throw signals.signal.reason ?? new Error('The reply was aborted.');
        }
      }
      usage = usageTokens(await result.totalUsage);
    });
  } catch (error) {
    // The failure's record keeps the words; the images are already stored uploads.
    const words = request.messages.map(({ role, text: said }) => ({ role, text: said }));
    const messages: ChatMessage[] = [{ role: 'system', text: system }, ...words, ...(text ? [{ role: 'assistant' as const, text }] : [])];
    throw callFailure(error, model, { timeout: signals.timeout, caller: request.signal }, { messages, inputTokens: usage.input, outputTokens: usage.output });
  }
  return { text, inputTokens: usage.input, outputTokens: usage.output };
}
