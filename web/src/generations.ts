import type { Api, ArtifactRecord, Family, GenerationsResponse, GroupResponse, Me } from './api.ts';
import { badge, h, replaceChildren, when } from './dom.ts';
import type { Context } from './main.ts';
import { familyHeader, hashWith, mediaView, pager } from './parts.ts';

const PAGE = 25;
const MESSAGES_PAGE = 200;

/** A date picked in the browser is the user's own day: from its first to its last instant, sent as instants. */
const startOfDay = (day: string) => new Date(`${day}T00:00:00`).toISOString();
const endOfDay = (day: string) => new Date(`${day}T23:59:59.999`).toISOString();

export async function renderGenerations({ api, me, main, params, navigate }: Context, family: Family): Promise<void> {
  const search = params.get('search') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const page = await api.call<GenerationsResponse>(`/${family.type}/generations`, {
    ...(search ? { search } : {}),
    ...(from ? { date_from: startOfDay(from) } : {}),
    ...(to ? { date_to: endOfDay(to) } : {}),
    page_limit: PAGE,
    page_offset: offset,
  });
  // An admin's listing holds the whole org's groups: it says whose each one is.
  const owners = me.role === 'admin' ? await ownerNames(api, me, page.items.map((item) => item.profile_id)) : undefined;
  const ownerCell = (profileId: string) => h('td', {}, h('a', { href: `#/profile/id/${profileId}` }, owners?.get(profileId) ?? profileId));
  const hrefFor = (changes: Record<string, string | number>) => hashWith(`#/${family.type}/generations`, { search, from, to, offset }, changes);
  const searchInput = h('input', { type: 'search', name: 'search', value: search, placeholder: 'Search names and instructions', attrs: { 'aria-label': 'Search generations' } });
  const fromInput = h('input', { type: 'date', name: 'from', value: from });
  const toInput = h('input', { type: 'date', name: 'to', value: to });
  replaceChildren(
    main,
    familyHeader(family, 'generations', me),
    h(
      'form',
      { class: 'row', attrs: { role: 'search' }, on: { submit: (event) => { event.preventDefault(); navigate(hrefFor({ search: searchInput.value, from: fromInput.value, to: toInput.value, offset: 0 })); } } },
      searchInput,
      h('label', { class: 'inline' }, 'From ', fromInput),
      h('label', { class: 'inline' }, 'To ', toInput),
      h('button', { type: 'submit' }, 'Search'),
    ),
    page.items.length === 0
      ? h('p', { class: 'muted' }, offset > 0 ? 'Nothing on this page.' : 'No generations match.')
      : h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Group'), owners ? h('th', {}, 'Owner') : null, h('th', {}, 'Started'))),
          h('tbody', {}, page.items.map((item) => h('tr', {}, h('td', {}, h('a', { href: `#/${family.type}/group/${item.group_id}` }, item.group_name)), owners ? ownerCell(item.profile_id) : null, h('td', {}, when(item.created_at))))),
        ),
    pager(offset, page.items.length, page.total_count, PAGE, (next) => hrefFor({ offset: next })),
  );
}

/** The names of the profiles on a page ("you" for the signed-in one); a profile that cannot be read keeps its id. */
async function ownerNames(api: Api, me: Me, profileIds: string[]): Promise<Map<string, string>> {
  const others = [...new Set(profileIds)].filter((id) => id !== me.profile.id);
  const records = await Promise.all(others.map((id) => api.call<ArtifactRecord>('/profile/get', { id }).catch(() => undefined)));
  const names = new Map<string, string>([[me.profile.id, 'you']]);
  for (const record of records) if (record) names.set(record.id, record.name);
  return names;
}

/** A model's JSON answer, indented; any other text as it is (a malformed answer is shown raw, as stored). */
function readable(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') return JSON.stringify(parsed, null, 2);
  } catch {
    // Not JSON: prose, or the raw text of an answer that could not be used.
  }
  return text;
}

export async function renderGroup({ api, me, catalog, main, params }: Context, family: Family, groupId: string): Promise<void> {
  const offset = Math.max(0, Number(params.get('messages') ?? 0) || 0);
  const group = await api.call<GroupResponse>(`/${family.type}/group`, {
    group_id: groupId,
    include_detail: true,
    message_limit: MESSAGES_PAGE,
    message_offset: offset,
  });
  const shown = group.runs.reduce((sum, run) => sum + run.messages.length, 0);
  replaceChildren(
    main,
    familyHeader(family, 'generations', me),
    h('h2', {}, group.name),
    h('p', { class: 'muted' }, `Group ${groupId} · started ${when(group.created_at)} · ${group.runs.length} run(s)`),
    group.runs.map((run) =>
      h(
        'section',
        { class: 'card', dataset: { run: run.id } },
        h('div', { class: 'row' }, badge(run.status), h('code', {}, run.id)),
        h(
          'p',
          { class: 'muted' },
          `Model ${run.model_id === 'offline' ? 'offline (the built-in generator, not AI output)' : (run.model_id ?? '—')}`,
          run.agent_id ? ` · agent ${run.agent_id}` : '',
          ` · ${run.input_tokens} tokens in, ${run.output_tokens} out · cost ${run.cost}`,
          ` · ${when(run.created_at)} → ${when(run.ended_at)}`,
        ),
        run.messages.map((message) =>
          h(
            'div',
            { class: `message ${message.role}` },
            h('strong', {}, message.role),
            '\n',
            readable(message.text),
            catalog.media_kinds.flatMap((kind) => message[`${kind}_upload_ids`].map((uploadId) => mediaView(api, kind, uploadId, `${message.role === 'assistant' ? 'Generated' : 'Given'} ${kind} for ${family.type}`))),
          ),
        ),
      ),
    ),
    group.message_total_count > MESSAGES_PAGE
      ? pager(offset, shown, group.message_total_count, MESSAGES_PAGE, (next) => `#/${family.type}/group/${groupId}${next > 0 ? `?messages=${next}` : ''}`)
      : null,
  );
}
