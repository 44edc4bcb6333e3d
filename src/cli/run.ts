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
      // `glow personas generate --help` is about generate; an action the family lacks gets the whole list.
      const help = (actionWord !== undefined ? familyHelp(type, operations, operationActionOf(actionWord, rest[0])) : undefined) ?? familyHelp(type, operations)!;
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
  } catch (error) {
    const known = error instanceof UsageError || error instanceof CliError;
    if (output.json) output.err(JSON.stringify({ error: errorDocument(error) }));
    else output.err(known ? `glow: ${error.message}` : `glow: unexpected failure: ${(error as Error)?.stack ?? error}`);
    return known ? error.exitCode : 1;
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
