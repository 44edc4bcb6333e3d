import { GLOBAL_FLAGS, kebabCase, requestBody, snakeCase, UsageError } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { ApiError, CliError } from '../http.ts';
import { printResult } from '../output.ts';

/** Actions whose one positional fills a body field: `glow personas get <id>`. */
const POSITIONAL_FIELD: Record<string, string> = {
  get: 'id',
  delete: 'id',
  update: 'id',
  draft: 'id',
  cancel: 'run_id',
  start: 'simulation_id',
  end: 'attempt_id',
};

/**
 * The request body of `context`'s operation from `--body` and the flags, each flag read as the
 * type its field declares in the operation's schema (`--name 2024` stays text).
 */
export async function operationBody(context: CommandContext, reserved: string[]): Promise<Record<string, unknown>> {
  const fieldFlags = context.args.flags.some(({ name }) => !GLOBAL_FLAGS.includes(name) && !reserved.includes(name));
  // The schemas cost a moment to load: only when there are flags to read by them.
  if (!fieldFlags) return requestBody(context.args, reserved);
  const { findOperation, flagKinds } = await import('../catalogue.ts');
  const operation = await findOperation(`/${context.type}/${context.action}`);
  return requestBody(context.args, reserved, operation ? flagKinds(operation.body ?? operation.query) : undefined);
}

/** A 404 the server's router gives when nothing is served at the path (not a missing record). */
export const isNoRoute = (error: unknown): error is ApiError => error instanceof ApiError && error.status === 404 && error.serverMessage.startsWith('No route');

/** Said when the server has no route the CLI's catalogue knows: the CLI is most likely talking to the wrong address. */
export function wrongServer(instanceUrl: string, method: string, path: string): CliError {
  return new CliError(`the server at ${instanceUrl} has no route ${method} ${path}, which a Glow server serves: is GLOW_INSTANCE_URL (or --instance-url) right? It is the server's base address, e.g. http://127.0.0.1:8000, without a path.`);
}

/** Calls `POST /<singular>/<action>` and prints its result; `--body` and flags make the body. */
export async function callOperation(context: CommandContext, body: Record<string, unknown>): Promise<unknown> {
  const path = `/${context.type}/${context.action}`;
  try {
    return await context.client.call(path, body);
  } catch (error) {
    if (isNoRoute(error)) {
      const { findOperation } = await import('../catalogue.ts');
      if (await findOperation(path)) throw wrongServer(context.client.instanceUrl, 'POST', path);
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
  const body = await operationBody(context, []);
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
  const result = await callOperation(context, body);
  printResult(context.output, result);
  // A new token (auths create, system org-create's first admin) is in this answer and nowhere else.
  if (typeof (result as { token?: unknown } | undefined)?.token === 'string') {
    context.output.err('note: the token above is shown only this once; the server keeps only its hash. Copy it now (for example into GLOW_TOKEN).');
  }
  return 0;
}
