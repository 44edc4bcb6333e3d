import { ApiError, type Api, type ArtifactRecord, type Family, type GroupResponse } from './api.ts';
import { badge, h, replaceChildren } from './dom.ts';
import type { Context } from './main.ts';
import { familyHeader, objectUrl, problemView } from './parts.ts';
import { followRun } from './watch.ts';

/** Starts an attempt of a simulation as the signed-in learner and opens its conversation. */
export async function startPractice(api: Api, simulationId: string, navigate: (hash: string) => void): Promise<void> {
  const attempt = await api.call<ArtifactRecord>('/attempt/start', { simulation_id: simulationId });
  navigate(`#/attempt/practice/${attempt.id}`);
}

/** A record the attempt points at, or undefined when it is missing, gone or not the caller's to read. */
async function recordOf(api: Api, type: 'persona' | 'scenario' | 'simulation', id: unknown): Promise<ArtifactRecord | undefined> {
  if (typeof id !== 'string' || !id) return undefined;
  try {
    return await api.call<ArtifactRecord>(`/${type}/get`, { id });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return undefined;
    throw error;
  }
}

/** A filled string field of a record's data, trimmed; undefined when absent or blank. */
function textField(record: ArtifactRecord | undefined, key: string): string | undefined {
  const value = record?.data[key];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function numberField(record: ArtifactRecord | undefined, key: string): number | undefined {
  const value = record?.data[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * What the learner reads before starting: the scenario's setting, their role and goal, its
 * background, the simulation's instructions and limits. Only fields that are filled; all text nodes.
 * Undefined when there is nothing to show.
 */
function briefCard(persona: string, personaRecord: ArtifactRecord | undefined, scenario: ArtifactRecord | undefined, simulation: ArtifactRecord | undefined): HTMLElement | undefined {
  const personaRole = textField(personaRecord, 'role');
  const maxTurns = numberField(simulation, 'max_turns');
  const timeLimit = numberField(simulation, 'time_limit_minutes');
  const suggested = numberField(scenario, 'duration_minutes');
  const limits = [
    maxTurns !== undefined ? `up to ${maxTurns} ${maxTurns === 1 ? 'turn' : 'turns'}` : undefined,
    timeLimit !== undefined ? `${timeLimit} ${timeLimit === 1 ? 'minute' : 'minutes'} time limit` : undefined,
    suggested !== undefined && timeLimit === undefined ? `about ${suggested} ${suggested === 1 ? 'minute' : 'minutes'}` : undefined,
  ].filter((limit): limit is string => limit !== undefined);
  const rows: [string, string, string | undefined][] = [
    ['setting', 'Setting', textField(scenario, 'setting')],
    ['role', 'Your role', textField(scenario, 'learner_role')],
    ['persona', 'You are talking with', personaRole ? `${persona}, ${personaRole}` : undefined],
    ['goal', 'Your goal', textField(scenario, 'learner_goal')],
    ['difficulty', 'Difficulty', textField(scenario, 'difficulty')],
    ['limits', 'Length', limits.length ? limits.join(' · ').replace(/^./, (first) => first.toUpperCase()) : undefined],
  ];
  const shown = rows.filter((row): row is [string, string, string] => row[2] !== undefined);
  const context = textField(scenario, 'context');
  const instructions = textField(simulation, 'learner_instructions');
  if (!shown.length && !context && !instructions) return undefined;
  const section = (key: string, title: string, text: string) =>
    h('div', { class: 'brief-text', dataset: { brief: key } }, h('h4', {}, title), h('p', {}, text));
  return h(
    'section',
    { class: 'card brief', attrs: { 'aria-labelledby': 'brief-title' } },
    h('h3', { id: 'brief-title' }, scenario ? `Your brief: ${scenario.name}` : 'Your brief'),
    shown.length ? h('dl', {}, shown.map(([key, label, text]) => h('div', { dataset: { brief: key } }, h('dt', {}, label), h('dd', {}, text)))) : null,
    context ? section('context', 'Background', context) : null,
    instructions ? section('instructions', 'Instructions', instructions) : null,
  );
}

/** The attempt's turns so far, or undefined when the caller may not see them (another learner's attempt: 404). */
async function transcriptOf(api: Api, groupId: string): Promise<GroupResponse['runs'] | undefined> {
  if (!groupId) return [];
  try {
    return (await api.call<GroupResponse>('/attempt/group', { group_id: groupId, include_detail: true, message_limit: 1000 })).runs;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * The learner's side of an attempt: the transcript so far, then each turn sent with
 * `attempt/chat_message` and the persona's reply shown as it streams (progress frames carry the
 * whole reply so far), with its speech when the persona has a voice.
 */
export async function renderPractice({ api, me, main, signal }: Context, family: Family, attemptId: string): Promise<void> {
  const attempt = await api.call<ArtifactRecord>('/attempt/get', { id: attemptId });
  const groupId = String(attempt.data.group_id ?? '');
  const [personaRecord, transcript, simulation] = await Promise.all([
    recordOf(api, 'persona', attempt.data.persona_id),
    transcriptOf(api, groupId),
    recordOf(api, 'simulation', attempt.data.simulation_id),
  ]);
  const persona = personaRecord?.name ?? 'The persona';
  if (!transcript) {
    replaceChildren(
      main,
      familyHeader(family, 'record', me),
      h('h2', {}, `Practice with ${persona}`),
      h('p', { class: 'notice' }, 'This conversation is its learner\'s own: only they and org admins can read or continue it.'),
    );
    return;
  }
  // Attempts started before scenario ids were copied onto them still name the simulation's.
  const scenario = await recordOf(api, 'scenario', attempt.data.scenario_id ?? simulation?.data.scenario_id);
  const maxTurns = numberField(simulation, 'max_turns');
  const speaker = (role: string) => (role === 'user' ? 'You' : persona);
  const bubble = (role: string, text: string) => h('div', { class: `message ${role}`, dataset: { role } }, h('strong', {}, speaker(role)), '\n', h('span', { class: 'text' }, text));
  const play = (into: HTMLElement, uploadId: string) =>
    api.blob('/system/audio_download', { audio_id: uploadId }).then(
      (blob) => into.append(h('audio', { src: objectUrl(blob), controls: true })),
      (error: unknown) => into.append(problemView(error)),
    );
  // Earlier turns' audio is fetched when asked for, not all at once when the page opens.
  const listen = (into: HTMLElement, uploadIds: string[]) =>
    uploadIds.map((uploadId) => {
      const button: HTMLButtonElement = h('button', { type: 'button', on: { click: () => { button.remove(); void play(into, uploadId); } } }, 'Listen');
      return button;
    });
  // The persona's opening line starts an empty conversation: shown as theirs, never sent to the server.
  const openingLine = textField(personaRecord, 'opening_line');
  const opening = openingLine && !transcript.some((run) => run.messages.some((message) => message.role !== 'system'))
    ? h('div', { class: 'message assistant-opening', dataset: { role: 'opening' } }, h('strong', {}, persona), h('span', { class: 'muted' }, ' (opening line)'), '\n', h('span', { class: 'text' }, openingLine))
    : null;
  const conversation = h(
    'div',
    { class: 'conversation', attrs: { 'aria-live': 'polite', 'aria-busy': 'false', 'aria-label': `Conversation with ${persona}` } },
    opening,
    transcript.flatMap((run) =>
      run.messages
        .filter((message) => message.role !== 'system')
        .map((message) => {
          const said = bubble(message.role, message.text);
          said.append(...listen(said, message.audio_upload_ids));
          return said;
        }),
    ),
  );
  const state = h('span', {}, badge(String(attempt.data.state)));
  const turns = h('span', { class: 'muted' });
  const showTurns = (count: unknown) => replaceChildren(turns, maxTurns ? ` · turn ${Number(count ?? 0)} of ${maxTurns}` : '');
  showTurns(attempt.data.turn_count);
  const text = h('textarea', {
    name: 'text',
    rows: 3,
    placeholder: 'What you say to the persona (Ctrl+Enter sends)',
    required: true,
    attrs: { 'aria-label': `What you say to ${persona}` },
    on: {
      keydown: (event) => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          void turn();
        }
      },
    },
  });
  const send = h('button', { class: 'primary', type: 'submit' }, 'Send');
  const finish: HTMLButtonElement = h('button', { type: 'button', on: { click: () => void endAttempt() } }, 'End attempt');
  const problem = h('div', {});
  const ended = (now: string) => now !== 'in_progress';
  const close = (now: string) => {
    replaceChildren(state, badge(now));
    if (!ended(now)) return;
    text.disabled = true;
    send.disabled = true;
    finish.disabled = true;
    const simulationId = typeof attempt.data.simulation_id === 'string' ? attempt.data.simulation_id : undefined;
    // After the server's own words on why (a refused turn), if any.
    if (problem.querySelector('p.notice')) return;
    problem.append(h('p', { class: 'notice' }, 'This attempt has ended; start a new one from ', simulationId ? h('a', { href: `#/simulation/id/${simulationId}` }, 'its simulation') : 'its simulation', ' to practise again.'));
  };

  /** The learner is done before the turns or the time run out. */
  async function endAttempt(): Promise<void> {
    if (finish.disabled) return;
    replaceChildren(problem);
    finish.disabled = true;
    try {
      const now = await api.call<ArtifactRecord>('/attempt/end', { attempt_id: attemptId });
      close(String(now.data.state));
    } catch (error) {
      replaceChildren(problem, problemView(error));
      // Ended meanwhile (the last turn, another tab): the page follows the attempt as it is.
      const now = await api.call<ArtifactRecord>('/attempt/get', { id: attemptId }).catch(() => undefined);
      if (now) close(String(now.data.state));
      if (!ended(state.textContent ?? '')) finish.disabled = false;
    }
  }

  async function turn(): Promise<void> {
    const said = text.value.trim();
    if (!said || send.disabled) return;
    replaceChildren(problem);
    send.disabled = true;
    finish.disabled = true;
    conversation.setAttribute('aria-busy', 'true');
    try {
      const sent = await api.call<{ run_id: string }>('/attempt/chat_message', { attempt_id: attemptId, text: said });
      text.value = '';
      conversation.append(bubble('user', said));
      const reply = bubble('assistant', '…');
      const replyText = reply.querySelector('.text')!;
      conversation.append(reply);
      const terminal = await followRun(api, 'attempt', sent.run_id, (frame) => {
        const data = frame.data;
        if (data.type === 'GenerationProgressEvent' && typeof data.text === 'string') replyText.textContent = data.text;
        if (data.type === 'GenerationMediaCompleteEvent' && data.modality === 'audio') void play(reply, String(data.upload_id));
      }, signal);
      if (terminal?.data.type === 'GenerationErrorEvent') replaceChildren(problem, h('p', { class: 'error', attrs: { role: 'alert' } }, String(terminal.data.message)));
      const now = await api.call<ArtifactRecord>('/attempt/get', { id: attemptId });
      showTurns(now.data.turn_count);
      close(String(now.data.state));
    } catch (error) {
      replaceChildren(problem, problemView(error));
      // Refused because the attempt ended meanwhile (its time ran out, another tab): the page follows it.
      const now = await api.call<ArtifactRecord>('/attempt/get', { id: attemptId }).catch(() => undefined);
      if (now) {
        showTurns(now.data.turn_count);
        close(String(now.data.state));
      }
    } finally {
      conversation.setAttribute('aria-busy', 'false');
      if (!ended(state.textContent ?? '')) {
        send.disabled = false;
        finish.disabled = false;
      }
      text.focus();
    }
  }

  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, `Practice with ${persona} `, state),
    h('p', { class: 'muted' }, 'Attempt ', h('a', { href: `#/attempt/id/${attemptId}` }, attemptId), groupId ? [' · ', h('a', { href: `#/attempt/group/${groupId}` }, 'transcript detail')] : null, turns),
    briefCard(persona, personaRecord, scenario, simulation),
    h('h3', {}, 'Conversation'),
    conversation,
    problem,
    h('form', { on: { submit: (event) => { event.preventDefault(); void turn(); } } }, text, h('div', { class: 'row' }, send, finish)),
  );
  close(String(attempt.data.state));
  if (!text.disabled) text.dataset.autofocus = '';
}
