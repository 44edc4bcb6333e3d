import { requestBody, UsageError } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { ApiError } from '../http.ts';
import { printResult } from '../output.ts';

/** Actions whose one positional fills a body field: `glow personas get <id>`. */
const POSITIONAL_FIELD: Record<string, string> = {
  get: 'id',
  delete: 'id',
  update: 'id',
  draft: 'id',
  cancel: 'run_id',
  start: 'simulation_id',
};

/** Calls `POST /<singular>/<action>` and prints its result; `--body` and flags make the body. */
export async function callOperation(context: CommandContext, body: Record<string, unknown>): Promise<unknown> {
  const path = `/${context.type}/${context.action}`;
  try {
    return await context.client.call(path, body);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.serverMessage.startsWith('No route')) {
      throw new UsageError(`${context.noun} has no action "${context.action}" (${path} does not exist). \`glow ${context.noun} --help\` lists the actions.`);
    }
    throw error;
  }
}

/** `glow <plural> <action> [positional] [--body JSON] [--field value ...]`. */
export async function genericCommand(context: CommandContext): Promise<number> {
  const body = requestBody(context.args, []);
  const field = POSITIONAL_FIELD[context.action];
  const positionals = context.args.positionals;
  if (positionals.length > (field ? 1 : 0)) {
    throw new UsageError(`unexpected argument "${positionals[field ? 1 : 0]}" for \`glow ${context.noun} ${context.action}\`${field ? ` (it takes one: <${field}>)` : ''}; pass fields as --name value.`);
  }
  if (field && positionals[0] !== undefined) body[field] = positionals[0];
  // `draft` without an id starts a new draft; for the others the id is what the action acts on.
  if (field && context.action !== 'draft' && body[field] === undefined) {
    throw new UsageError(`\`glow ${context.noun} ${context.action}\` needs <${field}>: glow ${context.noun} ${context.action} <${field}> (or --${field.replace(/_/g, '-')} <${field}>).`);
  }
  printResult(context.output, await callOperation(context, body));
  return 0;
}
