import { ApiError, type Api, type ArtifactRecord, type Family, type SearchPage } from './api.ts';
import { badge, h, replaceChildren, when, type Child } from './dom.ts';
import type { Context } from './main.ts';
import { bringIntoView, familyHeader, hashWith, mayCreate, mayWrite, mediaView, pager, problemView, withArticle } from './parts.ts';
import { startPractice } from './practice.ts';
import { dataForm, formShows, isPlainObject, showFieldErrors, type JsonSchema, type ValueEditor } from './schema-form.ts';

const PAGE = 25;

export async function renderRecordList({ api, me, main, params, navigate }: Context, family: Family): Promise<void> {
  if (!family.crud) {
    // Only what the user may do is offered: a member cannot generate these.
    const how = mayWrite(me, family) ? 'generate, or browse their generations (an admin also reads them with glow system get)' : 'an org admin generates and reads them';
    replaceChildren(main, familyHeader(family, 'list', me), h('p', { class: 'muted' }, `${family.plural} are only generated: ${how}.`));
    return;
  }
  const search = params.get('search') ?? '';
  const status = params.get('status') ?? '';
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const page = await api.call<SearchPage>(`/${family.type}/search`, {
    ...(search ? { search } : {}),
    ...(status ? { status } : {}),
    page_limit: PAGE,
    page_offset: offset,
  });
  const hrefFor = (changes: Record<string, string | number>) => hashWith(`#/${family.type}`, { search, status, offset }, changes);
  const searchInput = h('input', { type: 'search', name: 'search', value: search, placeholder: `Search ${family.plural}`, attrs: { 'aria-label': `Search ${family.plural}` } });
  // Profiles and tokens are made whole by identity's own operations: they have no drafts to filter by.
  const statusSelect = family.identity
    ? undefined
    : h('select', { name: 'status', attrs: { 'aria-label': 'Status' } }, ['', 'published', 'draft'].map((value) => h('option', { value, selected: value === status }, value || 'any status')));
  const filters = h(
    'form',
    { class: 'row', attrs: { role: 'search' }, on: { submit: (event) => { event.preventDefault(); navigate(hrefFor({ search: searchInput.value, status: statusSelect?.value ?? '', offset: 0 })); } } },
    searchInput,
    statusSelect,
    h('button', { type: 'submit' }, 'Search'),
  );
  const empty = offset > 0 ? 'Nothing on this page.' : search || status ? 'Nothing matches.' : `No ${family.plural} yet.`;
  replaceChildren(
    main,
    familyHeader(family, 'list', me),
    filters,
    page.items.length === 0
      ? h('p', { class: 'muted' }, empty)
      : h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Status'), h('th', {}, 'Version'), h('th', {}, 'Updated'))),
          h(
            'tbody',
            {},
            page.items.map((record) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `#/${family.type}/id/${record.id}` }, record.name), record.description ? h('div', { class: 'muted' }, record.description) : null),
                h('td', {}, badge(record.status)),
                h('td', {}, record.version),
                h('td', {}, when(record.updated_at)),
              ),
            ),
          ),
        ),
    pager(offset, page.items.length, page.total_count, PAGE, (next) => hrefFor({ offset: next })),
  );
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The record's data with its keys in the order of the family's example (the database keeps jsonb keys in its own order). */
function inSchemaOrder(family: Family, data: Record<string, unknown>): Record<string, unknown> {
  const order = Object.keys(family.example);
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => rank(a) - rank(b)));
}

/**
 * A new record starts from the family's example without its placeholder references: upload ids
 * are left out; ids of other records are blanked for the user to fill when required (the hint names them), left out when optional.
 */
function startingData(family: Family): Record<string, unknown> {
  const data: Record<string, unknown> = structuredClone(family.example);
  for (const field of Object.keys(family.upload_refs)) delete data[field];
  const required = new Set((family.data_schema as JsonSchema).required ?? []);
  for (const field of Object.keys(family.artifact_refs)) {
    if (!(field in data)) continue;
    // A required reference is left blank for the user to fill; an optional one is left out.
    if (required.has(field)) data[field] = Array.isArray(data[field]) ? [] : '';
    else delete data[field];
  }
  return data;
}

/** What a reference field holds, said under it. */
function referenceNotes(family: Family): Record<string, string> {
  const notes: Record<string, string> = {};
  for (const [field, type] of Object.entries(family.artifact_refs)) notes[field] = `The id of ${withArticle(type)} of your org (its page shows it).`;
  for (const [field, kind] of Object.entries(family.upload_refs)) notes[field] = `The upload id of ${withArticle(kind)} (the Files page lists them).`;
  return notes;
}

/**
 * The record's data, edited in a form drawn from the family's schema or as JSON; the user
 * switches between the two. Data the form cannot show exactly opens as JSON.
 */
function dataEditor(family: Family, initial: Record<string, unknown>, readOnly: boolean) {
  const schema = family.data_schema as JsonSchema;
  const notes = referenceNotes(family);
  const holder = h('div', {});
  const problem = h('div', {});
  let form: ValueEditor | undefined;
  let text: HTMLTextAreaElement | undefined;
  const parse = (): Record<string, unknown> => {
    try {
      return JSON.parse(text!.value) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`data is not valid JSON: ${(error as Error).message}`);
    }
  };
  /** `partial` (a draft): fields left empty in the form are left out, not sent empty; JSON is sent as written. */
  const read = (partial = false): Record<string, unknown> => (form ? ((form.read(partial) as Record<string, unknown> | undefined) ?? {}) : parse());
  const formTab = h('button', { type: 'button', class: 'tab', on: { click: () => toForm() } }, 'Form');
  const jsonTab = h('button', { type: 'button', class: 'tab', on: { click: () => toJson() } }, 'JSON');
  const mark = () => {
    formTab.setAttribute('aria-pressed', String(form !== undefined));
    jsonTab.setAttribute('aria-pressed', String(text !== undefined));
  };
  const showForm = (data: Record<string, unknown>) => {
    form = dataForm(schema, data, { readOnly, notes });
    text = undefined;
    replaceChildren(holder, form.element);
    mark();
  };
  const showJson = (data: unknown) => {
    text = h('textarea', { name: 'data', value: json(isPlainObject(data) ? inSchemaOrder(family, data) : data), rows: 18, spellcheck: false, readOnly });
    form = undefined;
    replaceChildren(holder, text);
    mark();
  };
  const toJson = () => {
    replaceChildren(problem);
    if (form) showJson(read());
  };
  const toForm = () => {
    replaceChildren(problem);
    if (!text) return;
    try {
      const data = parse();
      if (!isPlainObject(data) || !formShows(schema, data)) {
        replaceChildren(problem, h('p', { class: 'notice' }, 'The form cannot show this data as it stands (a field it does not know, a value of another type, or a list item with a line break): keep editing it as JSON.'));
        return;
      }
      showForm(data);
    } catch (error) {
      replaceChildren(problem, problemView(error));
    }
  };
  if (formShows(schema, initial)) showForm(initial);
  else showJson(initial);
  const view = h('div', { class: 'data-editor' }, h('div', { class: 'row tabs', attrs: { role: 'group', 'aria-label': 'Edit the data as' } }, h('span', { class: 'muted' }, 'Data'), formTab, jsonTab), problem, holder);
  return {
    view,
    read,
    /** The server's field errors, beside the fields (in the form). */
    showErrors: (errors: { path: string; message: string }[]) => showFieldErrors(holder, form ? errors : []),
  };
}


/** The name, description and data fields; the server checks the data against the family's schema. */
function recordFields(family: Family, initial: { name: string; description: string; data: Record<string, unknown> }, readOnly = false) {
  const name = h('input', { name: 'name', value: initial.name, required: true, size: 50, readOnly });
  const description = h('input', { name: 'description', value: initial.description, size: 80, readOnly });
  const data = dataEditor(family, initial.data, readOnly);
  /** `partial` (a draft): empty data fields are left out, so a draft may be saved before its required fields are filled. */
  const read = (partial = false): { name: string; description: string; data: unknown } => ({ name: name.value, description: description.value, data: data.read(partial) });
  // Marked like the data's fields when the server refuses them (`showFieldErrors` finds them by path).
  const field = (path: string, label: string, control: HTMLInputElement) => h('div', { class: 'field', dataset: { path } }, h('label', {}, label, control), h('div', { class: 'field-error' }));
  const labels = h('div', {}, field('name', 'Name', name), field('description', 'Description', description));
  const view: Child[] = [labels, data.view];
  const showErrors = (errors: { path: string; message: string }[]) => {
    showFieldErrors(labels, errors.filter((error) => error.path === 'name' || error.path === 'description'));
    data.showErrors(errors);
  };
  return { view, read, showErrors };
}

/**
 * Runs a form's action, showing its failure in `problem` (a 401 also signs out, through the API),
 * and the fields the server refused beside them.
 */
function acting(problem: HTMLElement, fields?: { showErrors(errors: { path: string; message: string }[]): void }) {
  return (work: () => Promise<void>) => async () => {
    replaceChildren(problem);
    fields?.showErrors([]);
    try {
      await work();
    } catch (error) {
      replaceChildren(problem, problemView(error));
      if (error instanceof ApiError) fields?.showErrors((error.details?.fields as { path: string; message: string }[] | undefined) ?? []);
      // The refusal may be far above the button that was pressed: take the user to it.
      bringIntoView(problem);
    }
  };
}

export async function renderNewRecord(context: Context, family: Family): Promise<void> {
  const { api, me, main, navigate } = context;
  if (!mayCreate(me, family)) {
    replaceChildren(main, familyHeader(family, 'record', me), h('p', { class: 'notice' }, `Only an org admin may create ${family.plural}.`));
    return;
  }
  if (family.type === 'profile') return renderNewProfile(context, family);
  if (family.type === 'auth') return renderNewToken(context, family);
  const fields = recordFields(family, { name: '', description: '', data: startingData(family) });
  const references = Object.entries(family.artifact_refs);
  const problem = h('div', {});
  const act = acting(problem, fields);
  const save = (operation: 'create' | 'draft') =>
    act(async () => {
      const record = await api.call<ArtifactRecord>(`/${family.type}/${operation}`, fields.read(operation === 'draft'));
      navigate(`#/${family.type}/id/${record.id}`);
    });
  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, `New ${family.type}`),
    h('p', { class: 'muted' }, 'The data starts as the family\'s example; the server checks it against the family\'s schema.'),
    references.length > 0
      ? h('p', { class: 'muted' }, 'Fill in the ids of records of your org: ', references.map(([field, type], index) => [index > 0 ? ', ' : '', h('code', {}, field), ` (${withArticle(type)})`]), '.')
      : null,
    problem,
    h('form', { on: { submit: (event) => event.preventDefault() } }, fields.view),
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'primary', type: 'button', on: { click: save('create') } }, 'Create and publish'),
      h('button', { type: 'button', on: { click: save('draft') } }, 'Save as draft'),
    ),
  );
}

function renderNewProfile({ api, me, main, navigate }: Context, family: Family): void {
  const name = h('input', { name: 'name', required: true, size: 40 });
  const email = h('input', { name: 'email', type: 'email', required: true, size: 40 });
  const role = h('select', { name: 'role' }, h('option', { value: 'member' }, 'member'), h('option', { value: 'admin' }, 'admin'));
  const description = h('input', { name: 'description', size: 60 });
  const problem = h('div', {});
  const create = acting(problem)(async () => {
    const record = await api.call<ArtifactRecord>('/profile/create', { name: name.value, email: email.value, role: role.value, ...(description.value ? { description: description.value } : {}) });
    navigate(`#/profile/id/${record.id}`);
  });
  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, 'New profile'),
    h('p', { class: 'muted' }, 'A person in your org. Give them a token (auths → New) so they can sign in.'),
    problem,
    h(
      'form',
      { on: { submit: (event) => { event.preventDefault(); void create(); } } },
      h('div', { class: 'row' }, h('label', {}, 'Name', name), h('label', {}, 'Email', email), h('label', {}, 'Role', role)),
      h('label', {}, 'Description', description),
      h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit' }, 'Create profile')),
    ),
  );
}

/** Every profile of the org, a page of 100 at a time. */
async function everyProfile(api: Api): Promise<ArtifactRecord[]> {
  const profiles: ArtifactRecord[] = [];
  for (;;) {
    const page = await api.call<SearchPage>('/profile/search', { page_limit: 100, page_offset: profiles.length });
    profiles.push(...page.items);
    if (page.items.length === 0 || profiles.length >= page.total_count) return profiles;
  }
}

async function renderNewToken({ api, me, main }: Context, family: Family): Promise<void> {
  // Admins mint tokens for anyone in the org; members only for themselves.
  const profiles = me.role === 'admin' ? await everyProfile(api) : [me.profile];
  const profile = h('select', { name: 'profile_id' }, profiles.map((candidate) => h('option', { value: candidate.id, selected: candidate.id === me.profile.id }, `${candidate.name} (${String(candidate.data.email ?? '')})`)));
  const name = h('input', { name: 'name', placeholder: 'e.g. laptop', size: 30 });
  const problem = h('div', {});
  const issued = h('div', { attrs: { 'aria-live': 'polite' } });
  const create = acting(problem)(async () => {
    const token = await api.call<{ id: string; token: string }>('/auth/create', { profile_id: profile.value, ...(name.value ? { name: name.value } : {}) });
    replaceChildren(
      issued,
      h(
        'div',
        { class: 'success', dataset: { tokenId: token.id } },
        h('p', {}, h('strong', {}, 'Copy this token now: it is shown only this once.')),
        h('p', {}, h('code', { class: 'token' }, token.token)),
        h('p', {}, h('a', { href: `#/auth/id/${token.id}` }, 'The token\'s record'), ' (revoke it there).'),
      ),
    );
  });
  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, 'New token'),
    problem,
    h(
      'form',
      { on: { submit: (event) => { event.preventDefault(); void create(); } } },
      h('div', { class: 'row' }, h('label', {}, 'For', profile), h('label', {}, 'Name', name)),
      h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit' }, 'Create token')),
    ),
    issued,
  );
}

/** The uploads a record's data points at, by kind. */
function uploadsOf(family: Family, record: ArtifactRecord): [string, string][] {
  return Object.entries(family.upload_refs).flatMap(([field, kind]) => {
    const value = record.data[field];
    const ids = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
    return ids.filter((id): id is string => typeof id === 'string').map((id): [string, string] => [kind, id]);
  });
}

export async function renderRecord({ api, me, main, navigate }: Context, family: Family, id: string): Promise<void> {
  const record = await api.call<ArtifactRecord>(`/${family.type}/get`, { id });
  // The server's rule: the family's write role, and then only the author or an org admin.
  const writable = mayWrite(me, family) && (me.role === 'admin' || record.created_by === me.profile.id);
  const editable = writable && family.type !== 'auth';
  const fields = recordFields(family, record, !editable);
  const problem = h('div', {});
  const act = acting(problem, fields);
  const update = act(async () => {
    await api.call(`/${family.type}/update`, { id, ...fields.read(), expected_version: record.version });
    navigate(`#/${family.type}/id/${id}`);
  });
  const saveDraft = act(async () => {
    await api.call(`/${family.type}/draft`, { id, ...fields.read(true) });
    navigate(`#/${family.type}/id/${id}`);
  });
  const publish = act(async () => {
    // Saved first, so what is published is what the form shows.
    await api.call(`/${family.type}/draft`, { id, ...fields.read() });
    const published = await api.call<ArtifactRecord>(`/${family.type}/create`, { draft_id: id });
    navigate(`#/${family.type}/id/${published.id}`);
  });
  const remove = act(async () => {
    if (!confirm(family.type === 'auth' ? `Revoke token "${record.name}"? Whoever holds it is signed out at once.` : `Delete ${family.type} "${record.name}"?`)) return;
    await api.call(`/${family.type}/delete`, { id });
    navigate(`#/${family.type}`);
  });
  const drafting = record.status === 'draft' && !family.identity;
  // A member may revoke their own tokens, whoever minted them.
  const removable = writable || (family.type === 'auth' && record.data.profile_id === me.profile.id);
  replaceChildren(
    main,
    familyHeader(family, 'record', me),
    h('h2', {}, record.name, ' ', badge(record.status)),
    h('p', { class: 'muted' }, `Version ${record.version} · created ${when(record.created_at)} · updated ${when(record.updated_at)} · id ${record.id}`),
    problem,
    h('form', { on: { submit: (event) => event.preventDefault() } }, fields.view),
    uploadsOf(family, record).map(([kind, uploadId]) => mediaView(api, kind, uploadId, `${kind === 'image' ? 'Image' : kind === 'video' ? 'Video' : 'Upload'} of ${family.type} ${record.name || record.id}`)),
    h(
      'div',
      { class: 'row' },
      editable && drafting ? [h('button', { class: 'primary', type: 'button', on: { click: publish } }, 'Publish'), h('button', { type: 'button', on: { click: saveDraft } }, 'Save draft')] : null,
      editable && !drafting ? h('button', { class: 'primary', type: 'button', on: { click: update } }, 'Save') : null,
      removable ? h('button', { class: 'danger', type: 'button', on: { click: remove } }, family.type === 'auth' ? 'Revoke' : 'Delete') : null,
      family.type === 'simulation' && record.status === 'published'
        ? h('button', { type: 'button', on: { click: act(() => startPractice(api, id, navigate)) } }, 'Practise this simulation')
        : null,
      family.type === 'attempt' ? h('a', { href: `#/attempt/practice/${id}` }, 'Open the conversation') : null,
      editable && family.media_modalities.length > 0 ? h('a', { href: `#/${family.type}/generate?artifact_id=${id}` }, `Generate ${family.media_modalities.join(' or ')} for this ${family.type}`) : null,
    ),
  );
}
