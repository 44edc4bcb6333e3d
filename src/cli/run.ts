import { readFile } from 'node:fs/promises';
import { hasSwitch, parseArgs, snakeCase, stringFlag, UsageError } from './args.ts';
import type { Command } from './context.ts';
import { ApiError, CliError, GlowClient } from './http.ts';
import { NOUNS, typeNamed } from './nouns.ts';
import { terminalOutput } from './output.ts';

export const DEFAULT_INSTANCE_URL = 'http://127.0.0.1:8000';

/** Command modules load on use: the media libraries are not paid for by `glow personas get`. */
const generation = () => import('./commands/generation.ts');
const media = () => import('./commands/media.ts');
const chat = () => import('./commands/chat.ts');

/** Actions with their own grammar; every other action is generic dispatch. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  generate: async () => (await generation()).generateCommand,
  watch: async () => (await generation()).watchCommand,
  generations: async () => (await generation()).generationsCommand,
  group: async () => (await generation()).groupCommand,
  upload: async () => (await media()).uploadCommand,
  download: async () => (await media()).downloadCommand,
  preview: async () => (await media()).previewCommand,
};

const ATTEMPT_COMMANDS: Record<string, () => Promise<Command>> = {
  message: async () => (await chat()).messageCommand,
  transcript: async () => (await chat()).transcriptCommand,
};

const genericCommand = async () => (await import('./commands/generic.ts')).genericCommand;

/** The operation a CLI verb stands for, for its help: `upload image` is image_upload, `preview` file_preview. */
function operationActionOf(verb: string, next: string | undefined): string {
  const action = snakeCase(verb);
  if ((action === 'upload' || action === 'download') && next !== undefined) return `${snakeCase(next)}_${action}`;
  if (action === 'preview') return 'file_preview';
  if (action === 'message') return 'chat_message';
  return action;
}

/** Runs the CLI on `argv` (without node and the script) and answers the exit status. */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseArgs(argv);
  const output = terminalOutput(hasSwitch(args, 'json'));
  try {
    const wantsHelp = hasSwitch(args, 'help');
    const [noun, actionWord, ...rest] = args.positionals;
    if (noun === undefined && hasSwitch(args, 'version')) {
      const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
      output.out(`glow ${manifest.version}`);
      return 0;
    }
    if (noun === undefined || noun === 'help') {
      if (noun === undefined && !wantsHelp && output.json) throw new UsageError('missing the family and action: glow <family> <action>. See `glow --help`.');
      const { mainHelp } = await import('./catalogue.ts');
      if (noun === undefined && !wantsHelp) {
        output.err(mainHelp());
        return 2;
      }
      output.out(mainHelp());
      return 0;
    }
    const type = typeNamed(noun);
    if (!type) throw new UsageError(`unknown family "${noun}". Families: ${[...NOUNS.keys()].join(', ')}. See \`glow --help\`.`);
    if (actionWord === undefined || wantsHelp) {
      if (!wantsHelp && output.json) throw new UsageError(`missing the action: glow ${noun} <action>. See \`glow ${noun} --help\`.`);
      const { familyHelp, loadOperations } = await import('./catalogue.ts');
      const operations = await loadOperations();
      // `glow personas generate --help` is about generate; the CLI's own verbs without an
      // operation of their own (transcript) get the whole list; any other word is a usage error.
      const actionHelp = actionWord !== undefined ? familyHelp(type, operations, operationActionOf(actionWord, rest[0])) : undefined;
      const cliVerb = actionWord !== undefined && (snakeCase(actionWord) in COMMANDS || (type === 'attempt' && snakeCase(actionWord) in ATTEMPT_COMMANDS));
      if (actionWord !== undefined && actionHelp === undefined && !cliVerb) {
        throw new UsageError(`${noun} has no action "${actionWord}". \`glow ${noun} --help\` lists the actions.`);
      }
      const help = actionHelp ?? familyHelp(type, operations)!;
      if (wantsHelp) output.out(help);
      else output.err(`${help}\n\nMissing the action: glow ${noun} <action>.`);
      return wantsHelp ? 0 : 2;
    }
    const action = snakeCase(actionWord);
    const client = new GlowClient({
      instanceUrl: instanceUrl(stringFlag(args, 'instance-url') ?? env.GLOW_INSTANCE_URL ?? DEFAULT_INSTANCE_URL),
      token: stringFlag(args, 'token') ?? (env.GLOW_TOKEN || undefined),
    });
    const load = (type === 'attempt' ? ATTEMPT_COMMANDS[action] : undefined) ?? COMMANDS[action] ?? genericCommand;
    const command = await load();
    return await command({ type, noun, action, args: { ...args, positionals: rest }, client, output });
  } catch (caught) {
    // The router's 404 for a path a Glow server serves (watch, upload, download): a wrong address.
    const error = caught instanceof ApiError && caught.status === 404 && caught.serverMessage.startsWith('No route') ? await noRoute(caught, args, env) : caught;
    const known = error instanceof UsageError || error instanceof CliError;
    if (output.json) output.err(JSON.stringify({ error: errorDocument(error) }));
    else output.err(known ? `glow: ${error.message}` : `glow: unexpected failure: ${(error as Error)?.stack ?? error}`);
    return known ? error.exitCode : 1;
  }
}

async function noRoute(error: ApiError, args: ReturnType<typeof parseArgs>, env: NodeJS.ProcessEnv): Promise<CliError> {
  const { wrongServer } = await import('./commands/generic.ts');
  const base = (stringFlagOrUndefined(args, 'instance-url') ?? env.GLOW_INSTANCE_URL ?? DEFAULT_INSTANCE_URL).replace(/\/+$/, '');
  const route = /^No route (\S+) (\S+?)\.?$/.exec(error.serverMessage);
  const prefix = URL.canParse(base) ? new URL(base).pathname.replace(/\/+$/, '') : '';
  const routePath = route?.[2]?.split('?')[0] ?? 'for the request';
  return wrongServer(base, route?.[1] ?? 'POST', prefix && routePath.startsWith(`${prefix}/`) ? routePath.slice(prefix.length) : routePath);
}

function stringFlagOrUndefined(args: ReturnType<typeof parseArgs>, name: string): string | undefined {
  try {
    return stringFlag(args, name);
  } catch {
    return undefined;
  }
}

/** The server's address, checked before any request: `127.0.0.1:8000` lacks its scheme. */
function instanceUrl(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`the instance URL "${value}" is not an http(s) URL; write it with its scheme, e.g. ${value.includes('://') ? value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, 'http://') : `http://${value}`}.`);
  }
  return value;
}

/**
 * With --json a failure is one JSON document on stderr, shaped like the server's error body
 * (`{"error":{"code","message",...}}`), plus the HTTP status when the server answered.
 */
function errorDocument(error: unknown): Record<string, unknown> {
  if (error instanceof ApiError) return { code: error.code, message: error.serverMessage, status: error.status, ...(error.details === undefined ? {} : { details: error.details }) };
  if (error instanceof UsageError) return { code: 'usage', message: error.message };
  if (error instanceof CliError) return { code: 'cli_error', message: error.message };
  return { code: 'unexpected', message: String((error as Error)?.message ?? error) };
}
