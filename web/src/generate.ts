import { ApiError, type Api, type Family, type GenerateResponse, type GroupResponse } from './api.ts';
import { h, replaceChildren, type Child } from './dom.ts';
import type { Context } from './main.ts';
import { familyHeader, mayWrite, mediaView, problemView } from './parts.ts';
import { followRun, type Frame } from './watch.ts';


/** Frames worth a line of their own, in words. */
function describe(family: Family, frame: Frame, groupHref: string): HTMLElement | string {
  const data = frame.data;
  switch (data.type) {
    case 'GenerationProgressEvent': {
      const last = data.last_completed_resource as { name?: string } | null;
      return `Progress ${data.completed_resources}/${data.total_resources} (${data.percentage}%)${last?.name ? `: ${last.name}` : ''}`;
    }
    case 'GenerationSavedEvent':
      // A family without records of its own (system) has no page to link to: the group's detail shows what was made.
      return family.crud
        ? h('span', {}, 'Saved ', h('a', { href: `#/${family.type}/id/${data.artifact_id}` }, `${family.type} ${data.artifact_id}`))
        : h('span', {}, `Saved ${family.type} ${data.artifact_id} (${family.plural} have no page here; it is in `, h('a', { href: groupHref }, 'the group\'s detail'), ')');
    case 'GenerationMediaProgressEvent':
      return `${data.modality}: ${data.message}`;
    case 'GenerationMediaCompleteEvent':
      return `${data.modality} ready: ${data.mime_type}, ${Number(data.file_size).toLocaleString()} bytes`;
    case 'GenerationCompleteEvent':
      return `Complete: ${data.message}`;
    case 'GenerationErrorEvent':
      return `Error: ${data.message}`;
    default:
      return String(data.type);
  }
}

export function renderGenerate({ api, me, catalog, main, params, signal }: Context, family: Family): void {
  const instructions = h('textarea', { name: 'instructions', rows: 5, placeholder: `Describe the ${family.type} you want, e.g. "A passive student who starts every reply with Uh..."` });
  const count = h('input', { type: 'number', name: 'count', min: '1', max: String(catalog.max_resources_per_run), value: '1', size: 3 });
  const model = h('input', { name: 'model_id', placeholder: 'org default', size: 38 });
  const modality = h('select', { name: 'modality' }, ['text', ...family.media_modalities].map((value) => h('option', { value }, value)));
  const title = h('input', { name: 'title', placeholder: 'title of the media', size: 38 });
  // Set: the media is attached to this record instead of a new one being generated (config.params.artifact_id).
  const attachTo = h('input', { name: 'artifact_id', value: params.get('artifact_id') ?? '', placeholder: 'a new record', size: 38 });
  if (attachTo.value) modality.value = family.media_modalities[0] ?? 'text';
  const media = family.media_modalities.length > 0;
  const countLabel = h('label', {}, `How many (1–${catalog.max_resources_per_run})`, count);
  const titleLabel = h('label', {}, 'Title of the media', title);
  const attachLabel = h('label', {}, `Attach the media to ${family.type} id`, attachTo);
  const countNote = h('small', { class: 'hint', hidden: true }, `Attaching makes one set of media for that ${family.type}: no count.`);
  /** The title and the record to attach to apply only to media; a count only to new records: what does not apply is not offered (nor sent). */
  const fit = () => {
    const withMedia = media && modality.value !== 'text';
    for (const [label, input] of [[titleLabel, title], [attachLabel, attachTo]] as const) {
      label.hidden = !withMedia;
      input.disabled = !withMedia;
    }
    const attaching = withMedia && attachTo.value.trim() !== '';
    count.disabled = attaching;
    countNote.hidden = !attaching;
  };
  modality.addEventListener('change', fit);
  attachTo.addEventListener('input', fit);
  fit();
  const problem = h('div', {});
  const live = h('section', { class: 'card', hidden: true, attrs: { 'aria-live': 'polite' } });
  const start = h('button', { class: 'primary', type: 'submit' }, 'Generate');

  const run = async () => {
    // One run per click: a second click while the trigger is on its way starts nothing.
    if (start.disabled) return;
    start.disabled = true;
    replaceChildren(problem);
    // A new request: the previous run's frames do not belong to it.
    replaceChildren(live);
    live.hidden = true;
    const text = instructions.value.trim();
    const params: Record<string, unknown> = {};
    if (!count.disabled) params.count = Number(count.value) || 1;
    if (model.value.trim()) params.model_id = model.value.trim();
    const body: Record<string, unknown> = { ...(text ? { instructions: [text] } : {}), config: { params } };
    if (media && modality.value !== 'text') {
      body.modality = modality.value;
      if (title.value.trim()) body.title = title.value.trim();
      if (attachTo.value.trim()) params.artifact_id = attachTo.value.trim();
    }
    // What the run's media is called for people who cannot see it.
    const mediaLabel = (kind: string) => (body.title as string | undefined) ?? `Generated ${kind} for ${family.type}`;
    let handles: GenerateResponse;
    try {
      handles = await api.call<GenerateResponse>(`/${family.type}/generate`, body);
    } catch (error) {
      replaceChildren(problem, problemView(error));
      start.disabled = false;
      return;
    }
    // Left while the trigger was on its way: the run goes on, this page no longer follows it.
    if (signal.aborted) return;
    const progress = h('progress', { max: 100, value: 0 });
    const frames = h('ol', { class: 'frames' });
    const outcome = h('div', {});
    const groupHref = `#/${family.type}/group/${handles.group_id}`;
    // What the run saved, as its frames said: a cancelled run names what it left behind.
    const saved: string[] = [];
    let cancelRequested = false;
    const cancel = h('button', {
      class: 'danger',
      type: 'button',
      on: {
        click: async () => {
          cancel.disabled = true;
          cancelRequested = true;
          try {
            await api.call(`/${family.type}/cancel`, { run_id: handles.run_id });
          } catch (error) {
            replaceChildren(outcome, problemView(error));
          }
        },
      },
    }, 'Cancel');
    replaceChildren(
      live,
      h('p', { class: 'muted' }, 'Run ', h('code', {}, handles.run_id), ' in group ', h('a', { href: groupHref }, handles.group_id)),
      progress,
      frames,
      h('div', { class: 'row' }, cancel),
      outcome,
    );
    live.hidden = false;
    try {
      const terminal = await followRun(api, family.type, handles.run_id, (frame) => {
        const data = frame.data;
        if (data.type === 'GenerationProgressEvent') progress.value = Number(data.percentage) || 0;
        const line = h('li', { dataset: { type: String(data.type), id: frame.id } }, h('code', {}, `#${frame.id}`), describe(family, frame, groupHref));
        if (data.type === 'GenerationSavedEvent' && typeof data.artifact_id === 'string') saved.push(data.artifact_id);
        if (data.type === 'GenerationMediaCompleteEvent') line.append(mediaView(api, String(data.modality), String(data.upload_id), mediaLabel(String(data.modality))));
        frames.append(line);
      }, signal, (attempt) => replaceChildren(outcome, h('p', { class: 'notice' }, `Connection lost; resuming after the last event (try ${attempt})…`)));
      cancel.remove();
      if (!terminal) return;
      if (terminal.data.type === 'GenerationCompleteEvent') {
        progress.value = 100;
        replaceChildren(outcome, h('p', { class: 'success', attrs: { role: 'status' } }, String(terminal.data.message)));
        // The run succeeded whatever this lookup does: its failure is said below the success, not instead of it.
        await showModel(api, family, handles, outcome).catch((error: unknown) => {
          if (!signal.aborted) outcome.append(h('p', { class: 'notice', dataset: { lookup: 'failed' } }, `Could not load the run's details: ${inWords(error)}`));
        });
      } else if (cancelRequested || /^Cancelled by request/.test(String(terminal.data.message))) {
        // The user's own choice, not a failure: say so plainly, and what the run had already saved.
        replaceChildren(outcome, cancelledNotice(family, saved, groupHref));
      } else {
        replaceChildren(outcome, h('p', { class: 'error', attrs: { role: 'alert' } }, String(terminal.data.message)), h('p', {}, 'The model\'s raw answer, if any, is in ', h('a', { href: groupHref }, 'the group\'s detail'), '.'));
      }
    } catch (error) {
      replaceChildren(outcome, problemView(error));
    } finally {
      start.disabled = false;
    }
  };

  if (!mayWrite(me, family)) {
    replaceChildren(main, familyHeader(family, 'generate', me), h('p', { class: 'notice' }, `Only an org admin may generate ${family.plural}: saving one needs the right to create it.`));
    return;
  }
  replaceChildren(
    main,
    familyHeader(family, 'generate', me),
    problem,
    h(
      'form',
      { on: { submit: (event) => { event.preventDefault(); void run(); } } },
      h('label', {}, 'Instructions', instructions),
      h(
        'div',
        { class: 'row' },
        countLabel,
        h('label', {}, 'Model id (a model record, or "offline")', model),
        media ? [h('label', {}, 'Modality', modality), titleLabel, attachLabel] : null,
      ),
      countNote,
      h('div', { class: 'row' }, start),
    ),
    live,
  );
  instructions.dataset.autofocus = '';
}

/** Says which model made the run: the offline generator is a development aid, and the page says so. */
async function showModel(api: Api, family: Family, handles: GenerateResponse, into: HTMLElement): Promise<void> {
  const group = await api.call<GroupResponse>(`/${family.type}/group`, { group_id: handles.group_id });
  const run = group.runs.find((candidate) => candidate.id === handles.run_id);
  if (!run?.model_id) return;
  into.append(
    run.model_id === 'offline'
      ? h('p', { class: 'notice' }, 'Made by the built-in offline generator (model_id "offline"): a development aid that fills the schema from your instructions, not AI output. Configure a model to generate for real.')
      : h('p', { class: 'muted' }, `Model ${run.model_id}: ${run.input_tokens} tokens in, ${run.output_tokens} out.`),
  );
}

/** A failed request in words: a network failure is the server not answering, else the server's own message. */
function inWords(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'the server could not be reached. Its group\'s detail shows it once the server answers.';
  return error instanceof Error ? error.message : String(error);
}

/** A run the user cancelled: a plain notice of it and of what it had saved before it stopped. */
function cancelledNotice(family: Family, saved: string[], groupHref: string): HTMLElement {
  const named: Child[] = saved.map((id, index) => [
    index > 0 ? ', ' : '',
    family.crud ? h('a', { href: `#/${family.type}/id/${id}` }, `${family.type} ${id}`) : h('code', {}, `${family.type} ${id}`),
  ]);
  return h(
    'div',
    { class: 'notice', dataset: { outcome: 'cancelled' }, attrs: { role: 'status' } },
    h('p', {}, h('strong', {}, 'Cancelled.'), ' ', saved.length === 0 ? 'Nothing was saved before the run stopped.' : [`Saved before the run stopped (${saved.length}): `, named, '.']),
    h('p', {}, 'Everything the run did is in ', h('a', { href: groupHref }, 'the group\'s detail'), '.'),
  );
}
