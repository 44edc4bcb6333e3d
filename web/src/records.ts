import type { ArtifactRecord, Family } from './api.ts';
import { familyHeader, mediaView, problemView } from './parts.ts';
import { badge, h, replaceChildren, when, type Child } from './dom.ts';
import type { Context } from './main.ts';
import { startPractice } from './practice.ts';

const PAGE = 25;

export async function renderRecordList({ api, main, params, navigate }: Context, family: Family): Promise<void> {
  if (!family.crud) {
    replaceChildren(main, familyHeader(family, 'list'), h('p', { class: 'muted' }, `${family.plural} have no records of their own: generate, or browse their generations.`));
    return;
  }
  const search = params.get('search') ?? '';
  const status = params.get('status') ?? '';
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const page = await api.call<{ items: ArtifactRecord[]; total_count: number }>(`/${family.type}/search`, {
    ...(search ? { search } : {}),
    ...(status ? { status } : {}),
    page_limit: PAGE,
    page_offset: offset,
  });
  const query = (changes: Record<string, string | number>) => {
    const next = new URLSearchParams({ search, status, offset: String(offset) });
    for (const [key, value] of Object.entries(changes)) next.set(key, String(value));
    for (const key of [...next.keys()]) if (!next.get(key) || next.get(key) === '0') next.delete(key);
    return `#/${family.type}?${next}`;
  };
  const searchInput = h('input', { type: 'search', name: 'search', value: search, placeholder: `Search ${family.plural}` });
  const statusSelect = h('select', { name: 'status' }, ['', 'published', 'draft'].map((value) => h('option', { value, selected: value === status }, value || 'any status')));
  const filters = h(
    'form',
    { class: 'row', on: { submit: (event) => { event.preventDefault(); navigate(query({ search: searchInput.value, status: statusSelect.value, offset: 0 })); } } },
    searchInput,
    statusSelect,
    h('button', { type: 'submit' }, 'Search'),
  );
  const last = Math.min(offset + page.items.length, page.total_count);
  replaceChildren(
    main,
    familyHeader(family, 'list'),
    filters,
    page.items.length === 0
      ? h('p', { class: 'muted' }, search || status ? 'Nothing matches.' : `No ${family.plural} yet.`)
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
    h(
      'div',
      { class: 'row' },
      h('span', { class: 'muted', dataset: { total: String(page.total_count) } }, page.total_count === 0 ? '' : `${offset + 1}–${last} of ${page.total_count}`),
      offset > 0 ? h('a', { href: query({ offset: Math.max(0, offset - PAGE) }) }, '‹ Previous') : null,
      last < page.total_count ? h('a', { href: query({ offset: offset + PAGE }) }, 'Next ›') : null,
    ),
  );
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The name, description and data fields, as a form; `data` is edited as JSON and checked by the server. */
function recordFields(initial: { name: string; description: string; data: unknown }) {
  const name = h('input', { name: 'name', value: initial.name, required: true, size: 50 });
  const description = h('input', { name: 'description', value: initial.description, size: 80 });
  const data = h('textarea', { name: 'data', value: json(initial.data), rows: 18, spellcheck: false });
  const read = (): { name: string; description: string; data: unknown } => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.value);
    } catch (error) {
      throw new Error(`data is not valid JSON: ${(error as Error).message}`);
    }
    return { name: name.value, description: description.value, data: parsed };
  };
  const view: Child[] = [h('label', {}, 'Name', name), h('label', {}, 'Description', description), h('label', {}, 'Data (JSON)', data)];
  return { view, read };
}

export function renderNewRecord({ api, main, navigate }: Context, family: Family): void {
  const fields = recordFields({ name: '', description: '', data: family.example });
  const problem = h('div', {});
  const save = (operation: 'create' | 'draft') => async () => {
    replaceChildren(problem);
    try {
      const record = await api.call<ArtifactRecord>(`/${family.type}/${operation}`, fields.read());
      navigate(`#/${family.type}/id/${record.id}`);
    } catch (error) {
      replaceChildren(problem, problemView(error));
    }
  };
  replaceChildren(
    main,
    familyHeader(family, 'record'),
    h('h2', {}, `New ${family.type}`),
    h('p', { class: 'muted' }, 'The data starts as the family\'s example; the server checks it against the family\'s schema.'),
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

/** The uploads a record's data points at, by kind. */
function uploadsOf(family: Family, record: ArtifactRecord): [string, string][] {
  return Object.entries(family.upload_refs).flatMap(([field, kind]) => {
    const value = record.data[field];
    const ids = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
    return ids.filter((id): id is string => typeof id === 'string').map((id): [string, string] => [kind, id]);
  });
}

export async function renderRecord({ api, main, navigate }: Context, family: Family, id: string): Promise<void> {
  const record = await api.call<ArtifactRecord>(`/${family.type}/get`, { id });
  const fields = recordFields(record);
  const problem = h('div', {});
  const act = (work: () => Promise<void>) => async () => {
    replaceChildren(problem);
    try {
      await work();
    } catch (error) {
      replaceChildren(problem, problemView(error));
    }
  };
  const update = act(async () => {
    await api.call(`/${family.type}/update`, { id, ...fields.read(), expected_version: record.version });
    navigate(`#/${family.type}/id/${id}`);
  });
  const publish = act(async () => {
    // Saved first, so what is published is what the form shows.
    await api.call(`/${family.type}/draft`, { id, ...fields.read() });
    const published = await api.call<ArtifactRecord>(`/${family.type}/create`, { draft_id: id });
    navigate(`#/${family.type}/id/${published.id}`);
  });
  const remove = act(async () => {
    if (!confirm(`Delete ${family.type} "${record.name}"?`)) return;
    await api.call(`/${family.type}/delete`, { id });
    navigate(`#/${family.type}`);
  });
  replaceChildren(
    main,
    familyHeader(family, 'record'),
    h('h2', {}, record.name, ' ', badge(record.status)),
    h('p', { class: 'muted' }, `Version ${record.version} · created ${when(record.created_at)} · updated ${when(record.updated_at)} · id ${record.id}`),
    problem,
    h('form', { on: { submit: (event) => event.preventDefault() } }, fields.view),
    uploadsOf(family, record).map(([kind, uploadId]) => mediaView(api, kind, uploadId)),
    h(
      'div',
      { class: 'row' },
      record.status === 'draft'
        ? [h('button', { class: 'primary', type: 'button', on: { click: publish } }, 'Publish'), h('button', { type: 'button', on: { click: act(async () => {
            await api.call(`/${family.type}/draft`, { id, ...fields.read() });
            navigate(`#/${family.type}/id/${id}`);
          }) } }, 'Save draft')]
        : h('button', { class: 'primary', type: 'button', on: { click: update } }, 'Save'),
      h('button', { class: 'danger', type: 'button', on: { click: remove } }, 'Delete'),
      family.type === 'simulation' && record.status === 'published'
        ? h('button', { type: 'button', on: { click: act(() => startPractice(api, id, navigate)) } }, 'Practise this simulation')
        : null,
      family.type === 'attempt' ? h('a', { href: `#/attempt/practice/${id}` }, 'Open the conversation') : null,
    ),
  );
}
