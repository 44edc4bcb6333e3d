/**
 * The operation catalogue, built from the same Operation lists the server registers, and the
 * help text written from it: actions, their body fields, types and descriptions come from the
 * zod schemas, so the help cannot drift from what the server validates.
 */
import { z } from 'zod';
import { FAMILIES } from '../artifacts/families/index.ts';
import type { ArtifactType, FamilyDefinition } from '../artifacts/types.ts';
import { artifactOperations } from '../artifacts/routes.ts';
import { loadConfig } from '../config.ts';
import { jsonSchema } from '../http/openapi.ts';
import type { Operation } from '../http/operations.ts';
import { identityOperations, REPLACED_BY_IDENTITY } from '../identity/routes.ts';
import { FAMILY_MEDIA } from '../generation/media-request.ts';
import type { CoreServices } from '../module.ts';

/**
 * Mirrors the list createApp registers. Building operations never touches the services (see
 * GlowModule), so placeholders stand in for them and no database is opened.
 */
export async function loadOperations(): Promise<Operation[]> {
  const placeholders = { config: loadConfig({}), database: null, artifacts: null, identity: null } as unknown as CoreServices;
  const operations: Operation[] = [...coreOperations()];
  try {
    // Loaded here, not at the top: they pull in the model and PDF libraries, which `glow --help` does not need.
    const { createGenerationModule } = await import('../generation/module.ts');
    const { createMediaModule } = await import('../media/module.ts');
    const { createChatModule } = await import('../chat/module.ts');
    const media = await createMediaModule(placeholders, { findCallRecord: async () => undefined });
    const generation = await createGenerationModule(placeholders, media.service);
    operations.push(...generation.operations, ...media.operations, ...createChatModule(placeholders, generation, media.service).operations);
  } catch (error) {
    process.stderr.write(`(help is missing the generation, media and chat operations: ${(error as Error).message})\n`);
  }
  return operations;
}

let core: Operation[] | undefined;

/** The identity and artifact operations: cheap to build (no model or media libraries). */
function coreOperations(): Operation[] {
  core ??= [...identityOperations(null as never, null as never), ...artifactOperations(null as never, REPLACED_BY_IDENTITY)];
  return core;
}

let routed: Operation[] | undefined;

/**
 * The same operations as loadOperations, built from the route modules alone: their schemas
 * without the model, media and PDF libraries the modules load (a second instead of 0.1 s).
 * The catalogue test checks the two lists agree.
 */
export async function schemaOperations(): Promise<Operation[]> {
  if (!routed) {
    const [{ generationOperations }, { mediaOperations }, { chatOperations }] = await Promise.all([
      import('../generation/routes.ts'),
      import('../media/routes.ts'),
      import('../chat/routes.ts'),
    ]);
    routed = [...coreOperations(), ...generationOperations(null as never), ...mediaOperations(null as never), ...chatOperations(null as never)];
  }
  return routed;
}

/** The operation served at `path` (`/persona/search`), loading the generation, media and chat routes only when needed. */
export async function findOperation(path: string): Promise<Operation | undefined> {
  const matches = (operation: Operation) => operation.path === path;
  return coreOperations().find(matches) ?? (await schemaOperations()).find(matches);
}

/**
 * How a flag's text becomes a body value, by the field's declared type: `string` keeps the text
 * as typed, `string[]` makes a list of texts, `number` and `boolean` must parse as one, and
 * `any` (objects, unions, fields the CLI cannot see) is read as JSON when it parses.
 */
export type FlagKind = 'string' | 'string[]' | 'number' | 'boolean' | 'any';

/** The kind of every field path (`['data', 'intensity']`) of an operation's body or query schema. */
export function flagKinds(schema: z.ZodType | undefined): (path: string[]) => { kind: FlagKind; nullable: boolean } {
  const root = schema ? toJsonSchema(schema) : undefined;
  return (path) => {
    let node: JsonSchema | undefined = root;
    for (const segment of path) {
      node = node ? unwrapNullable(node).schema.properties?.[segment] : undefined;
      if (!node) return { kind: 'any', nullable: false };
    }
    return node ? kindOf(node) : { kind: 'any', nullable: false };
  };
}

function unwrapNullable(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const variants = schema.anyOf ?? schema.oneOf;
  if (!variants) return { schema, nullable: schema.type === 'null' || (Array.isArray(schema.type) && schema.type.includes('null')) };
  const nonNull = variants.filter((variant) => variant.type !== 'null');
  const nullable = nonNull.length < variants.length;
  if (nonNull.length === 1) {
    const inner = unwrapNullable(nonNull[0]!);
    return { schema: inner.schema, nullable: nullable || inner.nullable };
  }
  return { schema: { ...schema, anyOf: nonNull, oneOf: undefined }, nullable };
}

function kindOf(schema: JsonSchema): { kind: FlagKind; nullable: boolean } {
  const { schema: inner, nullable } = unwrapNullable(schema);
  const one = (node: JsonSchema): FlagKind => {
    if (node.anyOf || node.oneOf) {
      const kinds = new Set((node.anyOf ?? node.oneOf)!.map((variant) => one(unwrapNullable(variant).schema)));
      return kinds.size === 1 ? [...kinds][0]! : 'any';
    }
    if (node.enum) return node.enum.every((value) => typeof value === 'string') ? 'string' : 'any';
    if (node.const !== undefined) return typeof node.const === 'string' ? 'string' : 'any';
    const types = (Array.isArray(node.type) ? node.type : node.type ? [node.type] : []).filter((type) => type !== 'null');
    if (types.length !== 1) return 'any';
    const type = types[0]!;
    if (type === 'string') return 'string';
    if (type === 'integer' || type === 'number') return 'number';
    if (type === 'boolean') return 'boolean';
    if (type === 'array' && node.items && one(unwrapNullable(node.items).schema) === 'string') return 'string[]';
    return 'any';
  };
  return { kind: one(inner), nullable };
}

/** The action name of an operation on `family`: `/persona/search` → `search`, or undefined for other families. */
export function actionOf(operation: Operation, family: FamilyDefinition): string | undefined {
  const prefix = `/${family.type}/`;
  return operation.path.startsWith(prefix) ? operation.path.slice(prefix.length) : undefined;
}

interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  description?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

function toJsonSchema(schema: z.ZodType): JsonSchema {
  return jsonSchema(schema, 'input') as JsonSchema;
}

/** A short type for help: `integer 1..10`, `uuid`, `string[]`, `draft|published`. */
export function describeType(schema: JsonSchema): string {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(describeType))].join(' | ');
  if (schema.enum) return schema.enum.map(String).join('|');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const type = Array.isArray(schema.type) ? schema.type.join('|') : schema.type;
  if (type === 'array') return `${schema.items ? describeType(schema.items) : 'any'}[]`;
  if (type === 'string' && schema.format) return schema.format;
  if (type === 'integer' || type === 'number') {
    // zod's int() bounds an integer by the safe range; that is noise in help.
    const min = schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER ? schema.minimum : undefined;
    const max = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
    if (min !== undefined && max !== undefined) return `${type} ${min}..${max}`;
    if (min !== undefined) return `${type} >=${min}`;
    if (max !== undefined) return `${type} <=${max}`;
  }
  return type ?? 'any';
}

export interface FieldHelp {
  name: string;
  type: string;
  required: boolean;
  description?: string;
}

/** The fields of an object schema; fields of a nested object follow it as `parent.child`. */
export function fieldsOf(schema: z.ZodType | undefined, nestedLevels = 0): FieldHelp[] {
  return schema ? propertiesOf(toJsonSchema(schema), '', nestedLevels) : [];
}

function propertiesOf(json: JsonSchema, prefix: string, depth: number): FieldHelp[] {
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).flatMap(([name, property]) => {
    const field = { name: prefix + name, type: describeType(property), required: required.has(name), description: property.description };
    // A record's `data` has its own section in the help (see familyHelp).
    const expands = depth > 0 && property.properties && !(prefix === '' && name === 'data');
    const nested = expands ? propertiesOf(property, `${prefix}${name}.`, depth - 1) : [];
    return [field, ...nested];
  });
}

function fieldLines(fields: FieldHelp[], asFlags: boolean, indentBy: string): string[] {
  const label = (field: FieldHelp) => `${asFlags ? `--${field.name.replace(/_/g, '-')}` : field.name}${field.type ? ` <${field.type}>` : ''}`;
  const width = Math.min(44, Math.max(0, ...fields.map((field) => label(field).length)));
  return fields.map((field) => {
    const notes = [field.required ? '(required)' : '', field.description ?? ''].filter(Boolean).join(' ');
    return `${indentBy}${label(field).padEnd(width)}  ${notes}`.trimEnd();
  });
}

/** How an action is typed on the command line when it takes positionals. */
const POSITIONAL_FORMS: Record<string, string> = {
  get: 'get <id>',
  delete: 'delete <id>',
  cancel: 'cancel <run_id>',
  group: 'group <group_id> [--detail]',
  watch: 'watch <run_id> | watch --group <group_id>',
  file_preview: 'preview <file_id> --output <file.png>',
  start: 'start <simulation_id>',
  end: 'end <attempt_id>',
};

/** Flags the CLI itself reads for an action, on top of the operation's fields (type '' is a switch). */
const CLI_FLAGS: Record<string, FieldHelp[]> = {
  generate: [{ name: 'wait', type: '', required: false, description: 'Follow the run and print each event; exit 0 on complete, 1 on error.' }],
  watch: [{ name: 'group', type: 'uuid', required: false, description: 'Same as --group-id.' }],
  group: [{ name: 'detail', type: '', required: false, description: 'Same as --include-detail true.' }],
  audio_upload: [
    { name: 'upload-id', type: 'uuid', required: false, description: 'Fill the slot reserved by audio/new with the file; with no file, promote that existing audio upload.' },
  ],
};

/** What the family's generation can produce: text, and the media FAMILY_MEDIA gives it. */
export function modalitiesOf(type: ArtifactType): string[] {
  return ['text', ...Object.keys(FAMILY_MEDIA[type] ?? {})];
}

/** generate's fields for one family: its own modalities, and config.params spelled out. */
function generateFields(type: ArtifactType, operation: Operation): FieldHelp[] {
  const offered = modalitiesOf(type);
  const modalities = offered.join('|');
  // Parameters of media the family does not make are left out.
  const applies: Record<string, boolean> = {
    'config.params.image_model_id': offered.includes('image') || offered.includes('video'),
    'config.params.speech_model_id': offered.includes('audio') || offered.includes('video'),
    'config.params.artifact_id': offered.length > 1,
  };
  const media = offered.filter((modality) => modality !== 'text').map((modality) => (modality === 'audio' ? 'speech' : modality));
  return fieldsOf(operation.body, 2).filter((field) => applies[field.name] ?? true).map((field) => {
    if (field.name === 'modality' || field.name === 'modalities') {
      return { ...field, type: field.name === 'modality' ? modalities : `${modalities}[]`, description: `What to produce besides the record's text (default text)${modalities === 'text' ? `: ${FAMILIES[type].plural} are text only` : ''}.` };
    }
    if (field.name === 'title') {
      const groupName = "the group's name if this run starts a new group (a run inside the session's group window, GLOW_GROUP_WINDOW_MINUTES, joins its open group)";
      return { ...field, description: `Given to the model with the instructions; ${media.length > 0 ? `the display name of the produced ${media.join(' or ')}; ` : ''}and ${groupName}.` };
    }
    return field;
  });
}

/** Lines of help after an action's fields. */
const CLI_NOTES: Record<string, string> = {
  chat_message: 'shortcut: message <attempt_id> <text> [--audio F] [--image F] [--video F] [--file F] [--text-file F] uploads the files, sends the turn and prints the reply as it streams; transcript <attempt_id> prints the conversation',
};

function actionUsage(action: string, operation: Operation): string {
  const upload = /^(\w+)_upload$/.exec(action);
  if (upload) return `upload ${upload[1]} <path> [--name N] [--description D] [--type MIME]`;
  const download = /^(\w+)_download$/.exec(action);
  if (download) return `download ${download[1]} <id> [--output F] [--range a-b]`;
  if (action === 'generate') return 'generate [--wait] [--body JSON | --field value ...]';
  return POSITIONAL_FORMS[action] ?? (operation.body || operation.query ? `${action.replace(/_/g, '-')} [--field value ...]` : action.replace(/_/g, '-'));
}

/** Help for a family's actions, or (`onlyAction`, snake_case) for one of them; undefined if the family has no such action. */
export function familyHelp(type: ArtifactType, operations: Operation[], onlyAction?: string): string | undefined {
  const family = FAMILIES[type];
  const noun = family.type === 'system' ? 'system' : family.plural;
  const own = operations.filter((operation) => actionOf(operation, family) !== undefined && (onlyAction === undefined || actionOf(operation, family) === onlyAction));
  if (onlyAction !== undefined && own.length === 0) return undefined;
  const lines = [
    `glow ${noun} — ${family.summary}`,
    '',
    onlyAction === undefined
      ? `Usage: glow ${noun} <action> [positionals] [--body JSON] [--field value ...] [--json]`
      : `Usage: glow ${noun} ${actionUsage(onlyAction, own[0]!)} [--json]`,
    '',
    onlyAction === undefined ? 'Actions:' : 'Action:',
  ];
  for (const operation of own) {
    const action = actionOf(operation, family)!;
    lines.push(`  ${actionUsage(action, operation)}`, `      ${operation.summary}${operation.method === 'GET' ? ` (GET ${operation.path})` : ''}`);
    // Downloads and previews take their one id as a positional; their body has nothing else.
    const positionalOnly = /_download$|^file_preview$/.test(action);
    // generate's config.params (count, model_id, ...) are what a generation is steered by: shown too.
    const body = positionalOnly ? [] : action === 'generate' ? generateFields(type, operation) : fieldsOf(operation.body, 1);
    const query = fieldsOf(operation.query).filter((field) => field.name !== 'access_token');
    const cliFlags = CLI_FLAGS[action] ?? [];
    const flagName = (field: FieldHelp) => field.name.replace(/_/g, '-');
    const described = (body.length > 0 ? body : query).filter((field) => !cliFlags.some((flag) => flagName(flag) === flagName(field)));
    lines.push(...fieldLines([...described, ...cliFlags], true, '      '));
    if (action === 'generate') lines.push(`      positional form: generate <${modalitiesOf(type).join('|')}> <title> [--instructions TEXT] → {modality, title, instructions}`);
    else if (CLI_NOTES[action]) lines.push(`      ${CLI_NOTES[action]}`);
    if (operation.multipart) {
      lines.push(...Object.entries(operation.multipart).map(([part, info]) => `      part ${part}${info.required ? ' (required)' : ''}  ${info.description}`));
    }
    if (action === 'create' && family.type !== 'profile' && family.type !== 'auth') {
      lines.push(`      data fields (--data '{...}' or --data.<field> value):`, ...fieldLines(fieldsOf(family.data, 1), false, '        '));
    }
  }
  if (own.length === 0) lines.push('  (none)');
  if (onlyAction === undefined || ['create', 'draft', 'update'].includes(onlyAction)) lines.push('', `Example data: ${JSON.stringify(family.example)}`);
  else lines.push('', `All actions: glow ${noun} --help`);
  return lines.join('\n');
}

export function mainHelp(): string {
  const families = Object.values(FAMILIES);
  const width = Math.max(...families.map((family) => family.plural.length));
  return [
    'glow — the command line of a Glow server',
    '',
    'Usage:',
    '  glow <family> <action> [--body JSON] [--field value ...]   POST /<singular>/<action>',
    '  glow <family> get <id> | delete <id>',
    '  glow <family> generate [--wait] [--body JSON | --instructions TEXT ...]',
    `  glow scenarios generate <${modalitiesOf('scenario').join('|')}> <title> [--instructions TEXT] [--wait]`,
    '  glow <family> watch <run_id> | watch --group <group_id>',
    '  glow <family> generations [--search S --date-from D --date-to D --page-limit N]',
    '  glow <family> cancel <run_id>',
    '  glow system group <group_id> [--detail]',
    '  glow system org-create --name N --admin-name A --admin-email E',
    '  glow <family> upload <kind> <path> [--name N] [--description D] [--type MIME]',
    '  glow <family> download <kind> <id> [--output F] [--range a-b]',
    '  glow <family> preview <file_id> --output p.png',
    '  glow attempts start <simulation_id>',
    '  glow attempts message <attempt_id> <text> [--audio F] [--image F] [--video F] [--file F] [--text-file F]',
    '  glow attempts transcript <attempt_id>',
    '  glow attempts end <attempt_id>',
    '  glow <family> --help                                      actions and fields of a family',
    '',
    'Flags become body fields: --page-limit 5 → "page_limit": 5; --data.intensity 7 nests. A value is read',
    'as its field\'s type: text fields take it as typed (--name 2024 is text), list fields take one value as',
    'a one-item list (repeat the flag or pass a JSON array for more), numbers and true/false must parse;',
    'other fields take numbers, true/false, null or JSON when they parse, else text, and a repeated flag',
    'makes an array. --body JSON (or @file.json, or - for standard input) is merged underneath (flags win).',
    '',
    'Global options:',
    '  --instance-url URL   server to talk to (env GLOW_INSTANCE_URL, default http://127.0.0.1:8000)',
    '  --token TOKEN        API token (env GLOW_TOKEN)',
    '  --json               machine output: one JSON document; streams print one JSON object per line',
    '  --help, -h           this help; `glow <family> --help` for a family',
    '  --version            the CLI\'s version',
    '',
    'Exit status: 0 success, 1 the server refused or could not be reached (message on stderr), 2 usage error.',
    '',
    'Families:',
    ...families.map((family) => `  ${(family.type === 'system' ? 'system' : family.plural).padEnd(width)}  ${family.summary}`),
  ].join('\n');
}
