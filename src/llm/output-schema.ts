import { z } from 'zod';
import { descriptionSchema, nameSchema } from '../artifacts/http-schemas.ts';
import { completeData } from '../artifacts/families/define.ts';
import type { FamilyDefinition } from '../artifacts/types.ts';

type JsonSchema = Record<string, any>;

/** What a model returns for one artifact: the record's name and description, and its `data`. */
export function artifactOutputSchema(family: FamilyDefinition) {
  return z.strictObject({
    name: nameSchema.describe(`Display name of the ${family.type}.`),
    description: descriptionSchema.describe(`One or two sentences describing the ${family.type} for an educator browsing a list.`),
    data: completeData(family),
  });
}

export function outputJsonSchema(family: FamilyDefinition): JsonSchema {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(artifactOutputSchema(family), { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return schema;
}

/** Keywords every structured-output implementation we target (OpenAI strict, Anthropic output format) accepts. */
const KEPT_KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'description', 'anyOf', '$defs', '$ref']);

function constraintSentence(keyword: string, value: unknown): string | undefined {
  switch (keyword) {
    case 'minLength': return `at least ${value} characters`;
    case 'maxLength': return `at most ${value} characters`;
    case 'minimum': return `minimum ${value}`;
    case 'maximum': return `maximum ${value}`;
    case 'exclusiveMinimum': return `greater than ${value}`;
    case 'exclusiveMaximum': return `less than ${value}`;
    case 'minItems': return `at least ${value} items`;
    case 'maxItems': return `at most ${value} items`;
    case 'pattern': return `must match the regular expression ${value}`;
    case 'format': return `format ${value}`;
    case 'multipleOf': return `a multiple of ${value}`;
    case 'uniqueItems': return value === true ? 'items must be unique' : undefined;
    default: return undefined;
  }
}

/**
 * The schema as strict structured-output modes accept it. OpenAI's strict mode requires every
 * property to be listed as required and rejects most validation keywords, and Anthropic's output
 * format has similar limits. So optional fields become required-but-nullable (the nulls are
 * dropped again before validation), and each dropped constraint moves into the description, where
 * the model still reads it; zod checks it afterwards and a violation is re-asked.
 */
export function strictJsonSchema(schema: JsonSchema): JsonSchema {
  return convert(schema, false);
}

function convert(node: unknown, nullable: boolean): JsonSchema {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node as JsonSchema;
  const source = node as JsonSchema;
  const result: JsonSchema = {};
  const constraints: string[] = [];
  for (const [keyword, value] of Object.entries(source)) {
    if (KEPT_KEYWORDS.has(keyword)) continue;
    const sentence = constraintSentence(keyword, value);
    if (sentence) constraints.push(sentence);
  }
  const descriptionParts = [source.description, constraints.length ? `(${constraints.join('; ')})` : undefined].filter(Boolean);
  if (source.$ref) result.$ref = source.$ref;
  if (source.type !== undefined) result.type = source.type;
  if (source.enum) result.enum = source.enum;
  if (source.const !== undefined) result.const = source.const;
  if (source.anyOf) result.anyOf = source.anyOf.map((option: unknown) => convert(option, false));
  if (source.items) result.items = convert(source.items, false);
  if (source.$defs) result.$defs = Object.fromEntries(Object.entries(source.$defs).map(([name, value]) => [name, convert(value, false)]));
  if (source.properties) {
    const required = new Set<string>(source.required ?? []);
    result.properties = Object.fromEntries(Object.entries(source.properties).map(([name, value]) => [name, convert(value, !required.has(name))]));
    result.required = Object.keys(source.properties);
    result.additionalProperties = false;
  } else if (source.type === 'object') {
    result.properties = {};
    result.required = [];
    result.additionalProperties = false;
  }
  if (descriptionParts.length) result.description = descriptionParts.join(' ');
  return nullable ? allowNull(result) : result;
}

function allowNull(schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string' && !schema.enum && schema.const === undefined) return { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.type) && !schema.enum) return schema.type.includes('null') ? schema : { ...schema, type: [...schema.type, 'null'] };
  const { description, ...rest } = schema;
  return { anyOf: [rest, { type: 'null' }], ...(description ? { description } : {}) };
}

/** True when the schema has a map-like object (extra keys of any name), which strict modes cannot express. */
export function hasOpenObject(schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object') return false;
  const node = schema as JsonSchema;
  if (node.type === 'object' && node.additionalProperties !== undefined && node.additionalProperties !== false) return true;
  return Object.values(node).some((value) => (Array.isArray(value) ? value.some(hasOpenObject) : hasOpenObject(value)));
}
