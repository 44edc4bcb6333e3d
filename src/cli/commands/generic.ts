import { GLOBAL_FLAGS, kebabCase, requestBody, snakeCase, UsageError } from '../args.ts';
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
    throw (await mistypedFlags(context, path, error)) ?? error;
  }
}

/**
 * A flag the operation does not take comes back from the server as an unknown field. When every
 * unknown field was a flag typed here (`--wiat`), it is the command line that is wrong: a usage
 * error (exit 2) listing the flags the action takes.
 */
async function mistypedFlags(context: CommandContext, path: string, error: unknown): Promise<UsageError | undefined> {
  if (!(error instanceof ApiError) || error.status !== 400) return undefined;
  const unknown = (error.details as { unknown_fields?: unknown } | undefined)?.unknown_fields;
  if (!Array.isArray(unknown) || unknown.length === 0) return undefined;
  const typed = new Set(context.args.flags.filter(({ name }) => !GLOBAL_FLAGS.includes(name)).map(({ name }) => name.split('.').map(snakeCase).join('.')));
  if (!unknown.every((field) => typeof field === 'string' && typed.has(field))) return undefined;
  const { fieldsOf, loadOperations } = await import('../catalogue.ts');
  const operation = (await loadOperations()).find((candidate) => candidate.path === path);
  const taken = [...fieldsOf(operation?.body).map((field) => field.name), ...(context.ownFlags ?? [])].map((name) => `--${kebabCase(name)}`);
  const flags = (unknown as string[]).map((field) => `--${kebabCase(field)}`).join(', ');
  return new UsageError(
    `unknown flag${unknown.length > 1 ? 's' : ''} ${flags} for \`glow ${context.noun} ${context.action}\`${taken.length ? `; it takes ${taken.join(', ')}` : ''} (\`glow ${context.noun} ${context.action} --help\` says more).`,
  );
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
