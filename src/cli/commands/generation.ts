import { hasSwitch, stringFlag, UsageError } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { CliError } from '../http.ts';
import { formatKeyValues, formatTable, printResult } from '../output.ts';
import { FrameDisplay, followWatch, isFailure, isTerminal, type Frame } from '../watch.ts';
import type { GroupResponse } from '../../generation/http-schemas.ts';
import { callOperation, operationBody } from './generic.ts';

const MODALITIES = new Set(['image', 'video', 'audio', 'text']);
/** How long a run watch stays silent before the CLI says it is waiting. */
const SILENCE_NOTE_MS = 3000;

/**
 * `glow <plural> generate [--wait] [--body JSON | flags]`, and the seed's positional form
 * `glow scenarios generate <modality> <title> [--instructions <text>]`.
 */
export async function generateCommand(context: CommandContext): Promise<number> {
  const ownFlags = ['wait'];
  const body = await operationBody({ ...context, action: 'generate' }, ownFlags);
  const [first, second, ...extra] = context.args.positionals;
  if (first !== undefined) {
    const { modalitiesOf } = await import('../catalogue.ts');
    const offered = modalitiesOf(context.type);
    const form = `\`glow ${context.noun} generate <${offered.join('|')}> <title>\``;
    if (MODALITIES.has(first) && !offered.includes(first)) throw new UsageError(`${context.type} generation cannot produce ${first}; the positional form is ${form}.`);
    if (!offered.includes(first)) {
      throw new UsageError(`unexpected argument "${first}": pass what you want as --instructions "<text>" (or --body); the only positional form is ${form}.`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" after the title (quote a title with spaces).`);
    if (second === undefined && body.title === undefined) throw new UsageError(`the positional form needs a title after "${first}" (or --title TEXT): ${form}.`);
    body.modality = first;
    if (second !== undefined) body.title = second;
  }
  if (typeof body.instructions === 'string') body.instructions = [body.instructions];
  const handles = await callOperation({ ...context, action: 'generate', ownFlags }, body) as { run_id: string; group_id: string; status?: string; message?: string };
  if (!hasSwitch(context.args, 'wait')) {
    printResult(context.output, handles);
    // With wait_for_complete the answer says how the run ended: a failed run fails the command.
    if (handles.status === 'error' || handles.status === 'cancelled') {
      // A failure of the command like any other: with --json, one {"error":...} document on stderr.
      throw new CliError(`run ${handles.run_id} ended ${handles.status === 'cancelled' ? 'cancelled' : 'in error'}: ${handles.message ?? ''}`.trimEnd());
    }
    if (handles.status === 'completed') await noteOfflineRun(context, handles.group_id, handles.run_id);
    return 0;
  }
  if (context.output.json) context.output.out(JSON.stringify(handles));
  else context.output.out(`run ${handles.run_id} in group ${handles.group_id}`);
  return watchRun(context, handles.run_id);
}

/**
 * Follows one run to its terminal frame: 0 on complete, 1 on error. A stream the server ends
 * before the terminal (a server going down for a restart) is resumed with Last-Event-ID; if the
 * server keeps ending it, 0 with the command that follows it on.
 */
export async function watchRun(context: CommandContext, runId: string, resumeAfter?: string, options: { noteSilence?: boolean } = {}): Promise<number> {
  const display = new FrameDisplay(context.output);
  const stopOnInterrupt = interruptHandler(display);
  let failed = false;
  let completedIn: string | undefined;
  let lastEventId = resumeAfter;
  // The server holds a watch of a run id it does not know yet (a client_run_id about to be
  // triggered) open and silent: say so, in case the id is a typo or a group's.
  // Not when resuming: a live run may well be busy in a model call for a while.
  const silence = options.noteSilence && resumeAfter === undefined
    ? setTimeout(() => context.output.err(`waiting for run ${runId}: no event yet. It may be queued, in a long first model call, or not triggered yet (a group is watched with --group <group_id>).`), SILENCE_NOTE_MS)
    : undefined;
  try {
    const outcome = await followWatch(context.client, `/${context.type}/watch?run_id=${encodeURIComponent(runId)}`, {
      reconnectOnEnd: 'once-streaming',
      resumeAfter,
      onFrame: (frame: Frame) => {
        clearTimeout(silence);
        display.show(frame);
        if (frame.event_id !== undefined) lastEventId = String(frame.event_id);
        if (frame.run_id !== undefined && frame.run_id !== runId) return false;
        if (isFailure(frame)) failed = true;
        else if (isTerminal(frame)) completedIn = typeof frame.group_id === 'string' ? frame.group_id : undefined;
        return isTerminal(frame);
      },
    });
    if (outcome === 'ended') {
      display.close();
      // Resuming after the last frame shown, so nothing is printed twice.
      const resume = lastEventId === undefined ? '' : ` --last-event-id ${lastEventId}`;
      context.output.err(`the server kept closing the stream before run ${runId} ended; \`glow ${context.noun} watch ${runId}${resume}\` follows it on from there.`);
    } else if (outcome === 'already-ended') {
      display.close();
      context.output.err(`run ${runId} had already ended: nothing follows event ${resumeAfter}.`);
    }
  } finally {
    clearTimeout(silence);
    stopOnInterrupt();
    display.close();
  }
  // On stderr, so --json output stays one JSON object per line.
  if (completedIn) await noteOfflineRun(context, completedIn, runId);
  return failed ? 1 : 0;
}

/** The offline generator is a development aid: a run it made says so, not only in the group's detail. */
async function noteOfflineRun(context: CommandContext, groupId: string, runId: string): Promise<void> {
  let group: GroupResponse;
  try {
    group = (await callOperation({ ...context, action: 'group' }, { group_id: groupId })) as GroupResponse;
  } catch {
    // Only a note: the run itself completed, and the exit status says so.
    return;
  }
  if (group.runs.find((run) => run.id === runId)?.model_id !== 'offline') return;
  context.output.err('note: made by the built-in offline generator (model_id "offline"): a development aid, not AI output. Configure a model (README, "Models") to generate for real.');
}

/** Ctrl-C ends a watch with status 130, after putting the terminal back (the progress bar hides the cursor). */
function interruptHandler(display: FrameDisplay): () => void {
  const stop = () => {
    display.close();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  return () => process.off('SIGINT', stop);
}

/** `glow <plural> watch <run_id>` or `glow <plural> watch --group <group_id>` (open until Ctrl-C). */
export async function watchCommand(context: CommandContext): Promise<number> {
  const group = stringFlag(context.args, 'group') ?? stringFlag(context.args, 'group-id');
  const resumeAfter = stringFlag(context.args, 'last-event-id');
  const [positionalRunId, extra] = context.args.positionals;
  // Ids are case-insensitive and the server answers them in lower case: frames are matched against that.
  const runId = (positionalRunId ?? stringFlag(context.args, 'run-id'))?.toLowerCase();
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}".`);
  if (runId === undefined && group === undefined) throw new UsageError(`usage: glow ${context.noun} watch <run_id> | watch --group <group_id>`);
  if (runId !== undefined && group === undefined) return watchRun(context, runId, resumeAfter, { noteSilence: true });

  const query = new URLSearchParams({ group_id: group! });
  if (runId !== undefined) query.set('run_id', runId);
  const display = new FrameDisplay(context.output, { labelRuns: true, family: context.type });
  const stopOnInterrupt = interruptHandler(display);
  try {
    const outcome = await followWatch(context.client, `/${context.type}/watch?${query}`, {
      reconnectOnEnd: true,
      resumeAfter,
      onFrame: (frame) => {
        display.show(frame);
        return false;
      },
    });
    // A group stream stays open: one the server kept ending is lost, as one that kept dropping.
    if (outcome === 'ended') throw new CliError(`the server kept closing the event stream of group ${group}; \`glow ${context.noun} watch --group ${group}\` opens it again.`);
  } finally {
    stopOnInterrupt();
    display.close();
  }
  return 0;
}

/** `glow <plural> generations [--search S --date-from D --date-to D --page-limit N]`. */
export async function generationsCommand(context: CommandContext): Promise<number> {
  if (context.args.positionals.length > 0) throw new UsageError(`unexpected argument "${context.args.positionals[0]}"; pass --search, --date-from, --date-to, --page-limit, --page-offset.`);
  const result = await callOperation(context, await operationBody(context, []));
  printResult(context.output, result, ['group_id', 'group_name', 'profile_id', 'session_id', 'created_at']);
  return 0;
}

interface GroupRun {
  id: string;
  artifact_type?: string;
  status?: string;
  created_at?: string;
  ended_at?: string | null;
  model_id?: string | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost?: number | null;
  error?: string | null;
  messages?: GroupMessage[];
}

export interface GroupMessage {
  id: string;
  role: string;
  created_at?: string;
  text?: string | null;
  [uploads: `${string}_upload_ids`]: string[] | undefined;
}

const UPLOAD_KINDS = ['text', 'audio', 'image', 'video', 'file'] as const;

/** One message as lines: `[role] text`, then its uploads by kind. */
export function describeMessage(message: GroupMessage, indentBy = ''): string[] {
  const lines = [`${indentBy}[${message.role}]${message.created_at ? ` ${message.created_at}` : ''}`];
  if (message.text) lines.push(...message.text.split('\n').map((line) => `${indentBy}  ${line}`));
  for (const kind of UPLOAD_KINDS) {
    const ids = message[`${kind}_upload_ids`];
    if (ids && ids.length > 0) lines.push(`${indentBy}  ${kind} uploads: ${ids.join(', ')}`);
  }
  return lines;
}

/** `glow system group <group_id> [--detail]` (also `glow <plural> group ...`). */
export async function groupCommand(context: CommandContext): Promise<number> {
  const body = await operationBody(context, ['detail']);
  const [groupId, extra] = context.args.positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}".`);
  if (groupId !== undefined) body.group_id = groupId;
  if (hasSwitch(context.args, 'detail')) body.include_detail = true;
  if (body.group_id === undefined) throw new UsageError(`usage: glow ${context.noun} group <group_id> [--detail]`);
  const group = await callOperation(context, body) as { group_id: string; name?: string; runs?: GroupRun[] };
  if (context.output.json) {
    printResult(context.output, group);
    return 0;
  }
  const { runs = [], ...header } = group;
  const lines = [formatKeyValues(header), ''];
  if (runs.length === 0) lines.push('(no runs)');
  else {
    lines.push(formatTable(runs.map((run) => ({
      run_id: run.id,
      artifact: run.artifact_type,
      status: run.status,
      model_id: run.model_id,
      input_tokens: run.input_tokens,
      output_tokens: run.output_tokens,
      cost: run.cost,
      created_at: run.created_at,
      ended_at: run.ended_at,
    })), ['run_id', 'artifact', 'status', 'model_id', 'input_tokens', 'output_tokens', 'cost', 'created_at', 'ended_at']));
    for (const run of runs) if (run.error) lines.push('', `run ${run.id} ${run.status === 'cancelled' ? 'was cancelled' : 'failed'}: ${run.error}`);
    for (const run of runs) {
      if (!run.messages || run.messages.length === 0) continue;
      lines.push('', `run ${run.id} messages:`);
      for (const message of run.messages) lines.push(...describeMessage(message, '  '));
    }
  }
  context.output.out(lines.join('\n'));
  return 0;
}
