import { createHash } from 'node:crypto';
import type { ArtifactGenerationRequest, ChatMessage, ChatReply, ChatReplyRequest, GeneratedArtifact } from './types.ts';
import { ModelOutputError } from './types.ts';
import { completeData } from '../artifacts/families/define.ts';

/** mulberry32: tiny, fast, and good enough to vary offline artifacts; seeded so the same input always yields the same output. */
export function seededRandom(seedText: string): () => number {
  let state = createHash('sha256').update(seedText).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function offlineSystemPrompt(request: Pick<ArtifactGenerationRequest, 'family'>): string {
  return `Offline generator: builds a ${request.family.type} from the instructions without a model. ${request.family.summary}`;
}

export function instructionsPrompt(request: Pick<ArtifactGenerationRequest, 'instructions' | 'title' | 'index'>, total?: number): string {
  const lines: string[] = [];
  if (request.title) lines.push(`Title: ${request.title}`);
  lines.push('Instructions:');
  if (request.instructions.length === 0) lines.push('- (none given: make a sensible, realistic choice)');
  for (const instruction of request.instructions) lines.push(`- ${instruction}`);
  if (total !== undefined && total > 1) lines.push(`This is resource ${request.index + 1} of ${total}: make it distinct from the others.`);
  else if (request.index > 0) lines.push(`This is resource number ${request.index + 1} of this run: make it distinct from earlier ones.`);
  return lines.join('\n');
}

export function generateOffline(request: ArtifactGenerationRequest): GeneratedArtifact {
  const { family, instructions, title, index } = request;
  const random = seededRandom(JSON.stringify([family.type, instructions, title ?? null, index]));
  const built = family.offline({ instructions, ...(title !== undefined ? { title } : {}), index, random });
  const messages: ChatMessage[] = [
    { role: 'system', text: offlineSystemPrompt(request) },
    { role: 'user', text: instructionsPrompt(request) },
  ];
  const parsed = completeData(family).safeParse(built.data);
  const assistantText = JSON.stringify({ name: built.name, description: built.description, data: built.data });
  messages.push({ role: 'assistant', text: assistantText });
  if (!parsed.success) {
    // A family whose offline builder breaks its own schema is a bug; surface it like any invalid output.
    throw new ModelOutputError(`The offline ${family.type} builder produced invalid data: ${parsed.error.message}`, messages, assistantText, 0, 0);
  }
  return { name: built.name, description: built.description, data: parsed.data as Record<string, unknown>, messages, inputTokens: 0, outputTokens: 0 };
}

const PERSONA_NAME = /\b(?:[Yy]ou are|[Yy]our name is|[Pp]lay(?:ing)?|[Aa]s)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)/;

// Glow's own persona prompt opens with "You are <record name>, <role>." and a record name may be any words.
const PROMPT_OPENING = /^You are ([^,\n]{1,80}),/;

/** The speaker's name, if the system prompt gives one (`You are Maya, ...`). */
function personaName(system: string): string | undefined {
  return PROMPT_OPENING.exec(system.trimStart())?.[1]?.trim() ?? PERSONA_NAME.exec(system)?.[1];
}

function shorten(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1).trimEnd()}…`;
}

/**
 * The offline stand-in for a persona's reply: short, plain and deterministic, and saying that it is
 * offline, so nobody mistakes it for a model's answer.
 */
export function offlineReplyText(request: Pick<ChatReplyRequest, 'system' | 'messages'>): string {
  const name = personaName(request.system);
  const lastUser = [...request.messages].reverse().find((message) => message.role === 'user')?.text.trim() ?? '';
  const turn = request.messages.filter((message) => message.role === 'user').length;
  const openers = ['I see.', 'Right.', 'Okay.', 'Hmm.'];
  const opener = openers[Math.floor(seededRandom(`${request.system}\u0000${lastUser}\u0000${turn}`)() * openers.length)];
  const heard = lastUser ? ` You said: "${shorten(lastUser, 120)}".` : '';
  return `[offline reply${name ? ` as ${name}` : ''}] ${opener}${heard} No model is configured, so this is a placeholder answer.`;
}

export async function replyOffline(request: ChatReplyRequest): Promise<ChatReply> {
  const text = offlineReplyText(request);
  const words = text.split(/(?<= )/);
  const chunkCount = 4;
  const perChunk = Math.ceil(words.length / chunkCount);
  let soFar = '';
  for (let start = 0; start < words.length; start += perChunk) {
    request.signal?.throwIfAborted();
    soFar += words.slice(start, start + perChunk).join('');
    request.onText?.(soFar);
    // Yield so watchers see the chunks as separate progress frames, like a real stream.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { text, inputTokens: 0, outputTokens: 0 };
}
