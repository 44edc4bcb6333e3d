import { readFileSync } from 'node:fs';

/**
 * The command line as the CLI reads it: positionals, then `--key value` flags in any order.
 * Commander is not used because the flags of `glow <plural> <action>` are the body fields of
 * whichever operation is called, unknown to the parser ahead of time.
 */
export type FlagValue = string | true;

export interface ParsedArgs {
  positionals: string[];
  flags: Array<{ name: string; value: FlagValue }>;
}

/** Flags that never take a value, so `--wait <id>` leaves `<id>` a positional. */
const SWITCHES = new Set(['json', 'help', 'wait', 'detail', 'version']);

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: ParsedArgs['flags'] = [];
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]!;
    if (token === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (token === '-h') {
      flags.push({ name: 'help', value: true });
    } else if (token.startsWith('--') && token.length > 2) {
      const equals = token.indexOf('=');
      if (equals > 2) {
        flags.push({ name: token.slice(2, equals), value: token.slice(equals + 1) });
        continue;
      }
      const name = token.slice(2);
      const next = argv[index + 1];
      if (SWITCHES.has(name) || next === undefined || next.startsWith('--')) {
        flags.push({ name, value: true });
      } else {
        flags.push({ name, value: next });
        index++;
      }
    } else {
      positionals.push(token);
    }
  }
  return { positionals, flags };
}

export class UsageError extends Error {
  readonly exitCode = 2;
}

/** The last value given for `name` (later flags win), or undefined. */
export function flag(args: ParsedArgs, name: string): FlagValue | undefined {
  for (let index = args.flags.length - 1; index >= 0; index--) {
    if (args.flags[index]!.name === name) return args.flags[index]!.value;
  }
  return undefined;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = flag(args, name);
  if (value === true) throw new UsageError(`--${name} needs a value.`);
  return value;
}

export function allStringFlags(args: ParsedArgs, name: string): string[] {
  return args.flags.filter((entry) => entry.name === name).map((entry) => {
    if (entry.value === true) throw new UsageError(`--${name} needs a value.`);
    return entry.value;
  });
}

export function hasSwitch(args: ParsedArgs, name: string): boolean {
  const value = flag(args, name);
  return value === true || value === 'true';
}

export const snakeCase = (key: string) => key.replace(/-/g, '_');
export const kebabCase = (key: string) => key.replace(/_/g, '-');

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** `5` → 5, `true` → true, `{"a":1}` → object, anything else stays the string it was. */
export function coerce(value: FlagValue): unknown {
  if (value === true) return true;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value === 'null') return null;
  if (NUMBER.test(value)) return Number(value);
  if (/^\s*[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/** The declared type of a body field, as the catalogue reads it from the operation's schema. */
export type FieldKind = { kind: 'string' | 'string[]' | 'number' | 'boolean' | 'any'; nullable: boolean };
export type FieldKinds = (path: string[]) => FieldKind;

/**
 * A flag's value read as its field's declared type: text stays text (`--name 2024`), a list of
 * texts takes one value as a one-item list (or a JSON array), numbers and booleans must parse
 * (a usage error naming the flag otherwise); other fields are read by `coerce`.
 */
export function coerceAs(field: FieldKind, value: FlagValue, flagName: string): unknown {
  const { kind, nullable } = field;
  if (kind === 'any') return coerce(value);
  if (value === true && kind !== 'boolean') throw new UsageError(`--${flagName} needs a value (${kind === 'string[]' ? 'text' : kind === 'string' ? 'text' : 'a number'}).`);
  const text = value as string;
  if (nullable && kind !== 'string' && kind !== 'string[]' && text === 'null') return null;
  switch (kind) {
    case 'string':
      return text;
    case 'string[]': {
      if (/^\s*\[/.test(text)) {
        try {
          const parsed: unknown = JSON.parse(text);
          if (Array.isArray(parsed)) return parsed;
        } catch {
          // Not a JSON array: the text is one item.
        }
      }
      return [text];
    }
    case 'number':
      if (!NUMBER.test(text.trim())) throw new UsageError(`--${flagName} must be a number, not "${text}".`);
      return Number(text);
    case 'boolean':
      if (value === true || text === 'true') return true;
      if (text === 'false') return false;
      throw new UsageError(`--${flagName} must be true or false, not "${text}".`);
  }
}

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

export function deepMerge(base: JsonObject, override: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    merged[key] = isObject(merged[key]) && isObject(value) ? deepMerge(merged[key] as JsonObject, value) : value;
  }
  return merged;
}

/** `--body JSON`, `--body @file.json` or `--body -` (standard input). */
export function parseBodyFlag(args: ParsedArgs): JsonObject {
  const value = stringFlag(args, 'body');
  if (value === undefined) return {};
  let text = value;
  if (value === '-' || value.startsWith('@')) {
    try {
      text = readFileSync(value === '-' ? 0 : value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --body ${value}: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new UsageError('--body must be a JSON object.');
  return parsed;
}

/**
 * The request body: `--body` JSON, then every other flag on top (flags win). Kebab keys become
 * snake (`--page-limit 5` → page_limit: 5), dots nest (`--data.intensity 7`), a repeated flag
 * becomes an array.
 */
export function requestBody(args: ParsedArgs, reserved: Iterable<string>, kinds?: FieldKinds): JsonObject {
  const skip = new Set([...GLOBAL_FLAGS, ...reserved]);
  const fromFlags: JsonObject = {};
  const seen = new Map<string, { values: unknown[]; list: boolean }>();
  for (const { name, value } of args.flags) {
    if (skip.has(name)) continue;
    const path = name.split('.').map(snakeCase);
    const key = path.join('.');
    const field = kinds?.(path) ?? { kind: 'any', nullable: false };
    const entry = seen.get(key) ?? { values: [], list: field.kind === 'string[]' };
    const coerced = coerceAs(field, value, name);
    // A list field gathers the items of every repetition: `--traits a --traits b` or `--traits '["a","b"]'`.
    if (entry.list && Array.isArray(coerced)) entry.values.push(...coerced);
    else entry.values.push(coerced);
    seen.set(key, entry);
  }
  for (const [key, { values, list }] of seen) {
    const path = key.split('.');
    let target = fromFlags;
    for (const segment of path.slice(0, -1)) {
      if (!isObject(target[segment])) target[segment] = {};
      target = target[segment] as JsonObject;
    }
    target[path.at(-1)!] = list ? values : values.length === 1 ? values[0] : values;
  }
  return deepMerge(parseBodyFlag(args), fromFlags);
}

/** Flags every command understands; never sent as body fields. */
export const GLOBAL_FLAGS = ['instance-url', 'token', 'json', 'help', 'body', 'version'];
