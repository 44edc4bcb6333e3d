import { parsePartialJson } from 'ai';
import { z } from 'zod';

export type ParsedOutput =
  | { ok: true; value: unknown; repairs: string[] }
  | { ok: false; error: string };

/** The body of the first markdown code fence, if the text has one (closed or cut off). */
function fencedBody(text: string): string | undefined {
  const match = /```[a-zA-Z0-9_-]*[ \t]*\r?\n?([\s\S]*?)(?:```|$)/.exec(text);
  return match?.[1];
}

/**
 * The JSON value a model meant, from text that may wrap it in a fence or in prose, or stop
 * before its end. Only syntax is repaired here; whether the value fits the schema is checked after.
 */
export async function extractJson(text: string): Promise<ParsedOutput> {
  const repairs: string[] = [];
  let candidate = text.trim();
  if (candidate.length === 0) return { ok: false, error: 'The reply was empty.' };

  const fenced = candidate.includes('```') ? fencedBody(candidate) : undefined;
  if (fenced !== undefined && fenced.trim().length > 0) {
    candidate = fenced.trim();
    repairs.push('removed a markdown fence');
  }

  const start = candidate.search(/[{[]/);
  if (start < 0) return { ok: false, error: 'The reply contains no JSON object.' };
  if (start > 0) {
    candidate = candidate.slice(start);
    repairs.push('removed text before the JSON');
  }

  const end = balancedEnd(candidate);
  if (end !== undefined && end < candidate.length) {
    if (candidate.slice(end).trim().length > 0) repairs.push('removed text after the JSON');
    candidate = candidate.slice(0, end);
  }

  const { value, state } = await parsePartialJson(candidate);
  if (state === 'successful-parse') return { ok: true, value, repairs };
  if (state === 'repaired-parse' && value !== undefined && value !== null && typeof value === 'object') {
    return { ok: true, value, repairs: [...repairs, 'closed a truncated tail'] };
  }
  return { ok: false, error: 'The reply is not valid JSON.' };
}

/** Index just past the bracket that closes the one at position 0, or undefined when the text ends first. */
function balancedEnd(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (inString) {
      if (escaped) escaped = false;
      else if (character === '\\') escaped = true;
      else if (character === '"') inString = false;
      continue;
    }
    if (character === '"') inString = true;
    else if (character === '{' || character === '[') depth += 1;
    else if (character === '}' || character === ']') {
      depth -= 1;
      if (depth === 0) return index + 1;
    }
  }
  return undefined;
}

type AnySchema = z.core.$ZodType;

function definitionOf(schema: AnySchema): any {
  return (schema as any)._zod.def;
}

/** Strips the wrappers that do not change the shape of a value (optional, nullable, default...). */
function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (let depth = 0; depth < 20; depth += 1) {
    const definition = definitionOf(current);
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(definition.type)) current = definition.innerType;
    else if (definition.type === 'pipe') current = definition.in;
    else if (definition.type === 'lazy') current = definition.getter();
    else return current;
  }
  return current;
}

function acceptsUndefined(schema: AnySchema): boolean {
  return z.safeParse(schema, undefined).success;
}

function acceptsNull(schema: AnySchema): boolean {
  return z.safeParse(schema, null).success;
}

/**
 * Brings a parsed value closer to the schema without changing what it says: drops keys the schema
 * does not know (at every level of plain objects) and `null` where a field may simply be absent.
 * Strict-mode providers answer optional fields with null, and chatty models add keys of their own.
 */
export function normalizeToSchema(value: unknown, schema: AnySchema, repairs: string[] = [], path = ''): unknown {
  const shapeSchema = unwrap(schema);
  const definition = definitionOf(shapeSchema);
  if (definition.type === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const shape = definition.shape as Record<string, AnySchema>;
    // An object with a catchall keeps its extra keys: they are data, not noise.
    const keepsUnknownKeys = definition.catchall !== undefined && definitionOf(definition.catchall).type !== 'never';
    const result: Record<string, unknown> = {};
    for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
      const fieldSchema = shape[key];
      const fieldPath = path ? `${path}.${key}` : key;
      if (!fieldSchema) {
        if (keepsUnknownKeys) result[key] = fieldValue;
        else repairs.push(`dropped unknown key ${fieldPath}`);
        continue;
      }
      if (fieldValue === null && acceptsUndefined(fieldSchema) && !acceptsNull(fieldSchema)) {
        repairs.push(`dropped null ${fieldPath}`);
        continue;
      }
      result[key] = normalizeToSchema(fieldValue, fieldSchema, repairs, fieldPath);
    }
    return result;
  }
  if (definition.type === 'array' && Array.isArray(value)) {
    return value.map((item, index) => normalizeToSchema(item, definition.element as AnySchema, repairs, `${path}[${index}]`));
  }
  return value;
}

/** One readable sentence per problem, to quote back to the model. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 20)
    .map((issue) => {
      const where = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `- ${where}: ${issue.message}${keys}`;
    })
    .join('\n');
}
