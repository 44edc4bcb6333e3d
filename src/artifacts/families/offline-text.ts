/**
 * Shared helpers for the offline builders: every choice goes through the caller's seeded
 * `random`, so the same instructions and index always give the same artifact.
 */
import type { OfflineInput } from '../types.ts';

export type Random = OfflineInput['random'];

const STOP_WORDS = new Set([
  'a', 'an', 'the', 'and', 'or', 'but', 'of', 'to', 'in', 'on', 'at', 'for', 'with', 'by', 'from',
  'as', 'is', 'are', 'was', 'were', 'be', 'been', 'who', 'that', 'this', 'these', 'those', 'it',
  'its', 'their', 'they', 'them', 'his', 'her', 'he', 'she', 'we', 'you', 'your', 'our', 'my',
  'i', 'me', 'every', 'each', 'some', 'any', 'all', 'very', 'really', 'about', 'into', 'than',
  'then', 'when', 'where', 'which', 'while', 'will', 'would', 'should', 'could', 'can', 'has',
  'have', 'had', 'do', 'does', 'did', 'not', 'no', 'so', 'if', 'up', 'out', 'one', 'make',
  'create', 'generate', 'write', 'build', 'please', 'new', 'like', 'also', 'just', 'starts',
  'start', 'reply', 'replies', 'what', 'how', 'why', 'use', 'using', 'used',
]);

export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick() needs at least one item');
  const position = Math.min(items.length - 1, Math.floor(random() * items.length));
  return items[position] as T;
}

/** Distinct items, in their original order, between `min` and `max` of them. */
export function pickSome<T>(random: Random, items: readonly T[], min: number, max: number): T[] {
  const wanted = Math.min(items.length, intBetween(random, min, max));
  const remaining = items.map((item, position) => ({ item, position }));
  const chosen: { item: T; position: number }[] = [];
  while (chosen.length < wanted) {
    const index = Math.min(remaining.length - 1, Math.floor(random() * remaining.length));
    chosen.push(...remaining.splice(index, 1));
  }
  return chosen.sort((left, right) => left.position - right.position).map(({ item }) => item);
}

/** An integer in [min, max], both inclusive. */
export function intBetween(random: Random, min: number, max: number): number {
  if (max <= min) return min;
  return Math.min(max, min + Math.floor(random() * (max - min + 1)));
}

/**
 * A version-4-shaped UUID drawn from `random`. Offline builders use it for required
 * references: the generation layer swaps these placeholders for real ids before saving.
 */
export function placeholderUuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const joined = hex.join('');
  return [
    joined.slice(0, 8), joined.slice(8, 12), joined.slice(12, 16), joined.slice(16, 20), joined.slice(20),
  ].join('-');
}

/** The instructions as one trimmed text, whitespace collapsed. */
export function instructionText(input: Pick<OfflineInput, 'instructions'>): string {
  return input.instructions
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line.length > 0)
    .join(' ');
}

/** Cuts `text` to at most `max` characters, at a word boundary when there is one. */
export function clip(text: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed.length <= max) return trimmed;
  const cut = trimmed.slice(0, max - 1);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > max / 2 ? cut.slice(0, lastSpace) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/** First letter upper-cased and a closing full stop when the text has no end punctuation. */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) return trimmed;
  const capitalised = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?…"')]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** `text` as a sentence, or `fallback` when the instructions were empty. */
export function sentenceOr(text: string, fallback: string, max: number): string {
  return clip(asSentence(text.length > 0 ? text : fallback), max);
}

export function titleCase(text: string): string {
  return text
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .map((word) => (/^[A-Z0-9-]+$/.test(word) && word.length > 1 ? word : word[0]!.toUpperCase() + word.slice(1).toLowerCase()))
    .join(' ');
}

/** The meaningful lower-case words of `text`, in order, without repeats. */
export function keywords(text: string): string[] {
  const seen = new Set<string>();
  for (const raw of text.toLowerCase().match(/[a-z][a-z0-9'-]*/g) ?? []) {
    const word = raw.replace(/'s$/, '').replace(/^-+|-+$/g, '');
    if (word.length < 3 || STOP_WORDS.has(word)) continue;
    seen.add(word);
  }
  return [...seen];
}

/** A short title made of the first meaningful words of `text`, or `fallback`. */
export function titleFrom(text: string, fallback: string, maxWords = 5): string {
  const words = keywords(text).slice(0, maxWords);
  return words.length > 0 ? clip(titleCase(words.join(' ')), 80) : fallback;
}

/** Makes names of one run distinct: the first keeps `base`, later ones get their position. */
export function withOrdinal(base: string, index: number): string {
  return index === 0 ? base : `${base} (${index + 1})`;
}

/** The first entry whose words appear in `text` (case-insensitive, whole words, plural allowed). */
export function findMentioned<T extends string>(text: string, candidates: readonly T[]): T | undefined {
  return candidates.find((candidate) => mentions(text, candidate));
}

const PHRASE_ENDS = ['who', 'that', 'which', 'whose', 'with', 'from', 'in', 'at', 'on', 'of', 'for', 'to', 'after', 'before', 'during', 'about', 'named', 'called'];
const OPENING_NOUN_PHRASE = new RegExp(`^\\s*(?:an?|the)\\s+([a-z][a-z'-]+(?:\\s+[a-z][a-z'-]*){0,3}?)\\s*(?=[,.;:!?]|$|\\s(?:${PHRASE_ENDS.join('|')})\\b)`, 'i');

/**
 * The noun phrase an instruction opens with, after its article: "A bored teenager who sulks" →
 * "bored teenager"; "An angry father at a meeting" → "angry father". Undefined when the text does
 * not open that way or the phrase runs past four words (then it is a sentence, not a noun).
 */
export function openingNounPhrase(text: string): string | undefined {
  return OPENING_NOUN_PHRASE.exec(text)?.[1]!.toLowerCase().split(/\s+/).join(' ');
}

/** Every entry whose words appear in `text`, in candidate order. */
export function allMentioned<T extends string>(text: string, candidates: readonly T[]): T[] {
  return candidates.filter((candidate) => mentions(text, candidate));
}

function mentions(text: string, phrase: string): boolean {
  return new RegExp(`\\b${escapeRegExp(phrase.toLowerCase())}(?:s|es)?\\b`).test(text.toLowerCase());
}

/**
 * Families an instruction plausibly names as the subject ("a field on personas"); words such
 * as "test", "field" or "model" are too common in prose to count as a family reference.
 */
export const SUBJECT_FAMILIES = [
  'persona', 'scenario', 'rubric', 'simulation', 'attempt', 'agent', 'document', 'cohort', 'profile', 'department',
] as const;

/**
 * The value whose cue words appear first in `text`, e.g.
 * `matchByCues(text, {advanced: ['hard', 'advanced']})`.
 */
export function matchByCues<T extends string>(text: string, cues: Record<T, readonly string[]>): T | undefined {
  const lower = text.toLowerCase();
  let best: { value: T; at: number } | undefined;
  for (const [value, words] of Object.entries(cues) as [T, readonly string[]][]) {
    for (const word of words) {
      const match = new RegExp(`\\b${escapeRegExp(word.toLowerCase())}`).exec(lower);
      if (match && (best === undefined || match.index < best.at)) best = { value, at: match.index };
    }
  }
  return best?.value;
}

/** The number right after a label (a regex source), e.g. `numberAfter('intensity 7', 'intensity')` → 7. */
export function numberAfter(text: string, labelPattern: string): number | undefined {
  const match = new RegExp(`\\b(?:${labelPattern})\\s*(?:of|=|:|is|at)?\\s*(\\d+(?:\\.\\d+)?)`, 'i').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The integer right before a unit, e.g. `numberBefore('20 turns', 'turns?')` → 20. */
export function numberBefore(text: string, unitPattern: string): number | undefined {
  const match = new RegExp(`(\\d+(?:\\.\\d+)?)\\s*-?\\s*(?:${unitPattern})\\b`, 'i').exec(text);
  return match ? Number(match[1]) : undefined;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * The words a speaker is told to open with: "starts every reply with Uh..." → "Uh...",
 * `always says "Well, actually"` → "Well, actually".
 */
export function openingPhrase(text: string): string | undefined {
  const quoted = /(?:starts?|begins?|opens?|says?|saying)[^"“']{0,40}["“']([^"”']{1,80})["”']/i.exec(text);
  if (quoted) return quoted[1]!.trim();
  const bare = /(?:starts?|begins?|opens?)\s+(?:every|each|all|most|his|her|their)?\s*(?:reply|replies|response|responses|answer|answers|sentence|sentences|message|messages|turn|turns)?\s*(?:with|by saying)\s+([^\s,;!?]+(?:\s+[^\s,;!?.…]+)?)/i.exec(text);
  if (!bare) return undefined;
  const phrase = bare[1]!.trim();
  // "Uh..." keeps its ellipsis; a lone trailing full stop belongs to the sentence, not the phrase.
  return /\.\.\.$|…$/.test(phrase) ? phrase : phrase.replace(/\.$/, '');
}

/** A course code such as "CS-180" or "NURS 2101" when the text names one. */
export function courseCode(text: string): string | undefined {
  const match = /\b([A-Z]{2,5})[- ]?(\d{2,4}[A-Z]?)\b/.exec(text);
  return match ? `${match[1]}-${match[2]}` : undefined;
}

/** Lower-case snake_case identifier from `text`, at most `maxLength` characters. */
export function snakeIdentifier(text: string, fallback: string, maxLength = 64): string {
  const joined = keywords(text).slice(0, 5).join('_').replace(/[^a-z0-9_]/g, '_').replace(/_+/g, '_');
  const trimmed = joined.slice(0, maxLength).replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(trimmed) ? trimmed : fallback;
}

/** "Jordan Lee" → "jordan.lee". */
export function emailLocalPart(name: string): string {
  const local = name.toLowerCase().replace(/[^a-z0-9]+/g, '.').replace(/^\.+|\.+$/g, '');
  return local.length > 0 ? local : 'user';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const GIVEN_NAMES = [
  'Jordan', 'Avery', 'Priya', 'Mateo', 'Aisha', 'Liam', 'Mei', 'Kofi', 'Sofia', 'Noah', 'Amara',
  'Diego', 'Hana', 'Elijah', 'Zara', 'Tomás', 'Ingrid', 'Ravi', 'Chloe', 'Samir',
] as const;

export const FAMILY_NAMES = [
  'Okafor', 'Nguyen', 'Fischer', 'Patel', 'García', 'Kowalski', 'Haddad', 'Tanaka', 'Mensah',
  'Lindqvist', 'Moreau', 'Costa', 'Ibrahim', 'Walsh', 'Novak', 'Reyes',
] as const;

export function personName(random: Random): string {
  return `${pick(random, GIVEN_NAMES)} ${pick(random, FAMILY_NAMES)}`;
}

/** BCP-47 language tag such as "en", "en-US" or "pt-BR". */
export const LANGUAGE_TAG_PATTERN = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/;
export const LANGUAGE_TAG_MESSAGE = 'must be a language tag such as en, en-GB or pt-BR';

/** http(s) URL; a regex rather than `z.url()` so JSON Schema carries the scheme rule too. */
export const HTTP_URL_PATTERN = /^https?:\/\/[^\s/?#]+[^\s]*$/;
export const HTTP_URL_MESSAGE = 'must be an http:// or https:// URL';

/** Calendar date "YYYY-MM-DD". */
export const DATE_PATTERN = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
export const DATE_MESSAGE = 'must be a date such as 2026-09-01';

const LANGUAGE_CUES: Record<string, readonly string[]> = {
  'es-ES': ['spanish', 'español'],
  'fr-FR': ['french', 'français'],
  'de-DE': ['german', 'deutsch'],
  'pt-BR': ['portuguese', 'brazilian'],
  'it-IT': ['italian'],
  'nl-NL': ['dutch'],
  'ja-JP': ['japanese'],
  'zh-CN': ['chinese', 'mandarin'],
  'ar-SA': ['arabic'],
  'hi-IN': ['hindi'],
  'en-GB': ['british'],
  'en-AU': ['australian'],
};

/** The language the instructions name, as a BCP-47 tag. */
export function mentionedLanguage(text: string): string | undefined {
  return matchByCues(text, LANGUAGE_CUES);
}
