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

async function personaName(api: Api, personaId: unknown): Promise<string> {
  if (typeof personaId !== 'string') return 'The persona';
  try {
    return (await api.call<ArtifactRecord>('/persona/get', { id: personaId })).name;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return 'The persona';
    throw error;
  }
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

/** The simulation's turn limit, if it has one and still exists. */
async function maxTurnsOf(api: Api, simulationId: unknown): Promise<number | undefined> {
  if (typeof simulationId !== 'string') return undefined;
  try {
    const simulation = await api.call<ArtifactRecord>('/simulation/get', { id: simulationId });
    return typeof simulation.data.max_turns === 'number' ? simulation.data.max_turns : undefined;
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
  const [persona, transcript, maxTurns] = await Promise.all([
    personaName(api, attempt.data.persona_id),
    transcriptOf(api, groupId),
    maxTurnsOf(api, attempt.data.simulation_id),
  ]);
  if (!transcript) {
    replaceChildren(
      main,
      familyHeader(family, 'record', me),
      h('h2', {}, `Practice with ${persona}`),
      h('p', { class: 'notice' }, 'This conversation is its learner\'s own: only they and org admins can read or continue it.'),
    );
    return;
  }
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
  const conversation = h(
    'div',
    { class: 'conversation', attrs: { 'aria-live': 'polite', 'aria-busy': 'false' } },
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
  const problem = h('div', {});
  const ended = (now: string) => now !== 'in_progress';
  const close = (now: string) => {
    replaceChildren(state, badge(now));
    if (!ended(now)) return;
    text.disabled = true;
    send.disabled = true;
    const simulationId = typeof attempt.data.simulation_id === 'string' ? attempt.data.simulation_id : undefined;
    replaceChildren(
      problem,
      h('p', { class: 'notice' }, 'This attempt has ended; start a new one from ', simulationId ? h('a', { href: `#/simulation/id/${simulationId}` }, 'its simulation') : 'its simulation', ' to practise again.'),
    );
  };

  async function turn(): Promise<void> {
    const said = text.value.trim();
    if (!said || send.disabled) return;
    replaceChildren(problem);
    send.disabled = true;
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
    } finally {
      conversation.setAttribute('aria-busy', 'false');
      if (!ended(state.textContent ?? '')) send.disabled = false;
      text.focus();
    }
  }

  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, `Practice with ${persona} `, state),
    h('p', { class: 'muted' }, 'Attempt ', h('a', { href: `#/attempt/id/${attemptId}` }, attemptId), groupId ? [' · ', h('a', { href: `#/attempt/group/${groupId}` }, 'transcript detail')] : null, turns),
    conversation,
    problem,
    h('form', { on: { submit: (event) => { event.preventDefault(); void turn(); } } }, text, h('div', { class: 'row' }, send)),
  );
  close(String(attempt.data.state));
  if (!text.disabled) text.dataset.autofocus = '';
}
