import { z } from 'zod';
import { validationMessage } from './validation-messages.ts';

// Every validation in the process reports in these words, whichever concern's schema failed.
z.config({ customError: validationMessage });

export class AppError extends Error {
  readonly details?: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.details = withFieldList(message, details);
  }
}

/**
 * An error about one field (`details.field`) also lists it as validation errors do,
 * `details.fields: [{path, message}]`, so a client reads every field error from one place.
 */
function withFieldList(message: string, details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const field = details?.field;
  if (typeof field !== 'string' || details!.fields !== undefined) return details;
  const own = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
  return { ...details, fields: [{ path: field, message: own.replace(/\.$/, '') }] };
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError(400, 'invalid_request', message, details);
export const unauthorized = (message = 'Missing or invalid credentials: send Authorization: Bearer <token> or X-Api-Key: <token>.') =>
  new AppError(401, 'unauthorized', message);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (what: string, id?: string) => new AppError(404, 'not_found', id ? `${what} ${id} was not found.` : `${what} was not found.`);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError(409, 'conflict', message, details);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
export const unsupportedMediaType = (message: string) => new AppError(415, 'unsupported_media_type', message);
export const unprocessable = (message: string, details?: Record<string, unknown>) => new AppError(422, 'unprocessable_content', message, details);

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

function formatPath(prefix: (string | number)[], path: PropertyKey[]): string {
  const full = [...prefix, ...path.map((part) => (typeof part === 'symbol' ? part.toString() : part))];
  return full.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : String(part)), '');
}

/**
 * Complaints zod adds beside a field's real one, left out of the answer:
 * - a field of the wrong type is told that alone: zod still measures a text sent for a list of
 *   at most 20 ids, and would add "must be at most 20 characters long";
 * - a whole-number field carries zod's safe-integer range besides its own bounds: `1e308` for a
 *   count of 1 to 10 would be told "at most 9007199254740991" and "at most 10".
 */
function isNoiseBesideAnother(issue: z.core.$ZodIssue, issues: readonly z.core.$ZodIssue[]): boolean {
  const safeIntegerBound = (issue.code === 'too_big' && Number(issue.maximum) === Number.MAX_SAFE_INTEGER)
    || (issue.code === 'too_small' && Number(issue.minimum) === Number.MIN_SAFE_INTEGER);
  if (issue.code === 'invalid_type') return false;
  const path = issue.path.join('\u0000');
  const samePath = issues.filter((other) => other !== issue && other.path.join('\u0000') === path);
  return samePath.some((other) => other.code === 'invalid_type') || (safeIntegerBound && samePath.length > 0);
}

/** Turns a zod failure into the contract's 400: a sentence naming every bad or unknown field, and the list. */
export function validationError(error: z.ZodError, prefix: (string | number)[] = []): AppError {
  const unknownFields: string[] = [];
  const fieldErrors: { path: string; message: string }[] = [];
  for (const issue of error.issues) {
    if (isNoiseBesideAnother(issue, error.issues)) continue;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) unknownFields.push(formatPath(prefix, [...issue.path, key]));
    } else {
      fieldErrors.push({ path: formatPath(prefix, issue.path) || '(body)', message: issue.message });
    }
  }
  const sentences: string[] = [];
  if (unknownFields.length) sentences.push(`Unknown field${unknownFields.length > 1 ? 's' : ''}: ${unknownFields.join(', ')}.`);
  for (const field of fieldErrors) sentences.push(`${field.path}: ${field.message}.`);
  return new AppError(400, 'invalid_request', sentences.join(' '), {
    ...(unknownFields.length ? { unknown_fields: unknownFields } : {}),
    ...(fieldErrors.length ? { fields: fieldErrors } : {}),
  });
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, prefix);
  return result.data;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where in `value` a string holds what PostgreSQL text cannot: a NUL character or half a surrogate pair. */
function unstorableTextAt(value: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\0') || UNPAIRED_SURROGATE.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      const found = unstorableTextAt(value[index], [...path, index]);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = unstorableTextAt(key, [...path, key]) ?? unstorableTextAt(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Text the database cannot store is the caller's 400, not a failed INSERT's 500: a NUL character
 * (JSON's \u0000, or a raw byte in a form field) or an unpaired surrogate (JSON's \ud800 alone).
 */
export function assertStorableText(value: unknown, prefix: (string | number)[] = []): void {
  const path = unstorableTextAt(value, prefix);
  if (!path) return;
  const field = formatPath([], path) || '(body)';
  throw new AppError(400, 'invalid_request', `${field}: text may not hold a NUL character (\\u0000) or an unpaired surrogate (a lone \\ud800-\\udfff).`, { fields: [{ path: field, message: 'holds a NUL character or an unpaired surrogate' }] });
}
