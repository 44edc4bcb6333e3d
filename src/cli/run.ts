import { FAMILIES, familyByPlural } from '../artifacts/families/index.ts';
import type { ArtifactType, FamilyDefinition } from '../artifacts/types.ts';
import { hasSwitch, parseArgs, snakeCase, stringFlag, UsageError } from './args.ts';
import type { Command } from './context.ts';
import { genericCommand } from './commands/generic.ts';
import { generateCommand, generationsCommand, groupCommand, watchCommand } from './commands/generation.ts';
import { downloadCommand, previewCommand, uploadCommand } from './commands/media.ts';
import { messageCommand, transcriptCommand } from './commands/chat.ts';
import { CliError, GlowClient } from './http.ts';
import { terminalOutput } from './output.ts';

export const DEFAULT_INSTANCE_URL = 'http://127.0.0.1:8000';

/** Actions with their own grammar; every other action is generic dispatch. */
const COMMANDS: Record<string, Command> = {
  generate: generateCommand,
  watch: watchCommand,
  generations: generationsCommand,
  group: groupCommand,
  upload: uploadCommand,
  download: downloadCommand,
  preview: previewCommand,
};

const ATTEMPT_COMMANDS: Record<string, Command> = {
  message: messageCommand,
  transcript: transcriptCommand,
};

/** `personas`, and also `persona` and `system`: the plural is the documented noun, the singular is forgiven. */
function familyNamed(noun: string): FamilyDefinition | undefined {
  return familyByPlural(noun) ?? FAMILIES[noun as ArtifactType];
}

function unknownFamily(noun: string): UsageError {
  const nouns = Object.values(FAMILIES).map((family) => (family.type === 'system' ? 'system' : family.plural));
  return new UsageError(`unknown family "${noun}". Families: ${nouns.join(', ')}. See \`glow --help\`.`);
}

/** Runs the CLI on `argv` (without node and the script) and answers the exit status. */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseArgs(argv);
  const output = terminalOutput(hasSwitch(args, 'json'));
  try {
    const wantsHelp = hasSwitch(args, 'help');
    const [noun, actionWord, ...rest] = args.positionals;
    if (noun === undefined || noun === 'help') {
      const { mainHelp } = await import('./catalogue.ts');
      if (noun === undefined && !wantsHelp) {
        output.err(mainHelp());
        return 2;
      }
      output.out(mainHelp());
      return 0;
    }
    const family = familyNamed(noun);
    if (!family) throw unknownFamily(noun);
    if (actionWord === undefined || wantsHelp) {
      const { familyHelp, loadOperations } = await import('./catalogue.ts');
      const help = familyHelp(family, await loadOperations());
      if (wantsHelp) output.out(help);
      else output.err(`${help}\n\nMissing the action: glow ${noun} <action>.`);
      return wantsHelp ? 0 : 2;
    }
    const action = snakeCase(actionWord);
    const client = new GlowClient({
      instanceUrl: stringFlag(args, 'instance-url') ?? env.GLOW_INSTANCE_URL ?? DEFAULT_INSTANCE_URL,
      token: stringFlag(args, 'token') ?? (env.GLOW_TOKEN || undefined),
    });
    const command = (family.type === 'attempt' ? ATTEMPT_COMMANDS[action] : undefined) ?? COMMANDS[action] ?? genericCommand;
    return await command({ family, noun, action, args: { ...args, positionals: rest }, client, output });
  } catch (error) {
    if (error instanceof UsageError || error instanceof CliError) {
      output.err(`glow: ${error.message}`);
      return error.exitCode;
    }
    output.err(`glow: unexpected failure: ${(error as Error)?.stack ?? error}`);
    return 1;
  }
}
