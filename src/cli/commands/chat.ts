import { allStringFlags, UsageError } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { followWatch, frameKind, isFailure, isTerminal, describeFrame, type Frame } from '../watch.ts';
import { describeMessage, type GroupMessage } from './generation.ts';
import { uploadFile, type MediaKind } from './media.ts';
import { isUuid } from '../../ids.ts';
import { CliError } from '../http.ts';

/** Which artifact hosts each upload kind (the seed's matrix): a chat turn's media is uploaded there first. */
const UPLOAD_HOST: Record<MediaKind, string> = { audio: 'attempt', image: 'scenario', video: 'scenario', file: 'document', text: 'document' };
const ATTACH_FLAGS: Record<string, MediaKind> = { audio: 'audio', image: 'image', video: 'video', file: 'file', 'text-file': 'text' };

/**
 * `glow attempts message <attempt_id> <text> [--audio F] [--image F] [--video F] [--file F] [--text-file F]`:
 * uploads the files, sends the turn with their ids, then prints the persona's reply as it streams.
 */
export async function messageCommand(context: CommandContext): Promise<number> {
  const [attemptId, ...words] = context.args.positionals;
  if (!attemptId) throw new UsageError('usage: glow attempts message <attempt_id> <text> [--audio F] [--image F] [--video F] [--file F] [--text-file F]');
  if (!isUuid(attemptId)) throw new UsageError(`"${attemptId}" is not an attempt id (a UUID such as the one attempts start printed).`);
  const body: Record<string, unknown> = { attempt_id: attemptId };
  if (words.length > 0) body.text = words.join(' ');
  const files = Object.keys(ATTACH_FLAGS).some((flagName) => allStringFlags(context.args, flagName).length > 0);
  if (files) {
    // The files go up before the turn: not for an attempt that will refuse it, which would leave them unused.
    const attempt = await context.client.call('/attempt/get', { id: attemptId }) as { data?: { state?: string; simulation_id?: string; turn_count?: number } };
    if (attempt.data?.state !== undefined && attempt.data.state !== 'in_progress') {
      context.output.err(`attempt ${attemptId} is ${attempt.data.state}; start a new attempt to keep practising. Nothing was uploaded.`);
      return 1;
    }
    const simulation = attempt.data?.simulation_id
      ? await context.client.call('/simulation/get', { id: attempt.data.simulation_id }).catch(() => undefined) as { data?: { max_turns?: number } } | undefined
      : undefined;
    const maxTurns = simulation?.data?.max_turns;
    if (maxTurns !== undefined && (attempt.data?.turn_count ?? 0) >= maxTurns) {
      context.output.err(`attempt ${attemptId} has used all ${maxTurns} turns; it ends when the persona's last reply is in. Nothing was uploaded.`);
      return 1;
    }
  }
  for (const [flagName, kind] of Object.entries(ATTACH_FLAGS)) {
    const ids: string[] = [];
    for (const file of allStringFlags(context.args, flagName)) {
      const uploaded = await uploadFile(context.client, context.output, UPLOAD_HOST[kind], kind, file).catch((error: Error) => {
        // Several files may go up before the turn: say which one was refused.
        error.message = `uploading ${file} (--${flagName}): ${error.message}`;
        throw error;
      });
      ids.push(uploaded.upload_id ?? uploaded[`${kind}_id`]!);
    }
    if (ids.length > 0) body[`${kind}_upload_ids`] = ids;
  }
  if (body.text === undefined && Object.keys(body).length === 1) throw new UsageError('a message needs text or at least one file.');
  const turn = await context.client.call('/attempt/chat_message', body) as { message_id: string; run_id: string; group_id: string };
  if (context.output.json) context.output.out(JSON.stringify(turn));

  let shown = '';
  let failed = false;
  const outcome = await followWatch(context.client, `/attempt/watch?run_id=${encodeURIComponent(turn.run_id)}`, {
    // A server going down for a restart ends the stream: it is resumed, as a dropped one.
    reconnectOnEnd: 'once-streaming',
    onFrame: (frame: Frame) => {
      if (context.output.json) context.output.out(JSON.stringify(frame));
      else if (frameKind(frame) === 'progress' && typeof frame.text === 'string') {
        // Progress frames carry the reply so far: print what is new since the last one.
        const text = frame.text as string;
        context.output.write(text.startsWith(shown) ? text.slice(shown.length) : `\n${text}`);
        shown = text;
      } else if (isFailure(frame)) {
        if (shown) context.output.write('\n');
        context.output.err(describeFrame(frame));
      } else if (frameKind(frame) === 'complete') {
        if (shown) context.output.write('\n');
        else if (frame.message) context.output.out(String(frame.message));
      }
      if (isFailure(frame)) failed = true;
      return isTerminal(frame);
    },
  });
  if (outcome === 'ended') {
    if (shown) context.output.write('\n');
    context.output.err(`the server kept closing the stream before the reply ended; \`glow attempts transcript ${attemptId}\` shows it once it is in.`);
  }
  return failed ? 1 : 0;
}

/** `glow attempts transcript <attempt_id>`: the persona's opening line, then every turn of the attempt's group, oldest first. */
export async function transcriptCommand(context: CommandContext): Promise<number> {
  const [attemptId, extra] = context.args.positionals;
  if (!attemptId || extra !== undefined) throw new UsageError('usage: glow attempts transcript <attempt_id>');
  const attempt = await context.client.call('/attempt/get', { id: attemptId }) as { data?: { group_id?: string; persona_id?: string } };
  const groupId = attempt.data?.group_id;
  // A well-formed command about a record without a transcript: the answer is no, not a usage error.
  if (!groupId) throw new CliError(`attempt ${attemptId} has no conversation: it is a record written directly (generated, or by an admin), not started with \`glow attempts start <simulation_id>\`.`);
  const group = await context.client.call('/system/group', { group_id: groupId, include_detail: true }) as { runs?: { messages?: GroupMessage[] }[] };
  const messages = (group.runs ?? []).flatMap((run) => run.messages ?? [])
    .sort((a, b) => String(a.created_at ?? '').localeCompare(String(b.created_at ?? '')));
  // The persona's opening line starts the conversation, as the practice page shows it (it is not a stored message).
  const persona = attempt.data?.persona_id
    ? await context.client.call('/persona/get', { id: attempt.data.persona_id }).catch(() => undefined) as { data?: { opening_line?: string } } | undefined
    : undefined;
  const opening = persona?.data?.opening_line;
  if (context.output.json) {
    context.output.out(JSON.stringify({ attempt_id: attemptId, group_id: groupId, ...(opening ? { opening_line: opening } : {}), messages }, null, 2));
    return 0;
  }
  const lines = [...(opening ? ['[opening]', ...opening.split('\n').map((line) => `  ${line}`)] : []), ...messages.flatMap((message) => describeMessage(message))];
  context.output.out(messages.length === 0 ? [...lines, '(no turns yet)'].join('\n') : lines.join('\n'));
  return 0;
}
