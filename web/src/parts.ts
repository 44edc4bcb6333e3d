import { ApiError, type Api, type Family, type Me } from './api.ts';
import { h, replaceChildren } from './dom.ts';

/** An API error as the user should read it: the bad or unknown fields listed one by one, else the message. */
export function problemView(error: unknown): HTMLElement {
  if (!(error instanceof ApiError)) return h('div', { class: 'error', attrs: { role: 'alert' } }, error instanceof Error ? error.message : String(error));
  const fields = (error.details?.fields as { path: string; message: string }[] | undefined) ?? [];
  const unknown = (error.details?.unknown_fields as string[] | undefined) ?? [];
  if (fields.length + unknown.length === 0) return h('div', { class: 'error', attrs: { role: 'alert' } }, h('strong', {}, error.message));
  return h(
    'div',
    { class: 'error', attrs: { role: 'alert' } },
    h('strong', {}, 'The server refused these fields:'),
    h('ul', {}, fields.map((field) => h('li', {}, h('code', {}, field.path), ` ${field.message}`)), unknown.map((name) => h('li', {}, h('code', {}, name), ' is not a known field'))),
  );
}

/**
 * Puts a refusal shown in `holder` in front of the user: the summary gets the focus (a screen
 * reader reads it; the browser scrolls to it) and is scrolled into view.
 */
export function bringIntoView(holder: HTMLElement): void {
  const summary = holder.querySelector<HTMLElement>('.error') ?? holder.firstElementChild;
  if (!(summary instanceof HTMLElement)) return;
  summary.tabIndex = -1;
  summary.focus({ preventScroll: true });
  summary.scrollIntoView({ block: 'center' });
}

/** "a persona", "an image": the noun with its indefinite article. */
export const withArticle = (noun: string) => `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;

/** May this user write records of the family at all (the family's write role; generating one needs it too)? */
export const mayWrite = (me: Me, family: Family) => family.write_role === 'member' || me.role === 'admin';

/** May this user create one: as `mayWrite`, and anyone may mint a token for their own profile. */
export const mayCreate = (me: Me, family: Family) => mayWrite(me, family) || family.type === 'auth';

/** The family's title and the views this user can use. */
export function familyHeader(family: Family, current: 'list' | 'generate' | 'generations' | 'record' | 'files', me: Me): HTMLElement {
  const link = (view: string, label: string, active: boolean) => (active ? h('strong', { attrs: { 'aria-current': 'page' } }, label) : h('a', { href: `#/${family.type}${view}` }, label));
  return h(
    'div',
    {},
    h('h1', {}, family.plural),
    h('p', { class: 'muted' }, family.summary),
    h(
      'div',
      { class: 'row' },
      family.crud ? link('', 'Records', current === 'list') : null,
      family.crud && mayCreate(me, family) ? link('/new', 'New', false) : null,
      mayWrite(me, family) ? link('/generate', 'Generate', current === 'generate') : null,
      link('/generations', 'Generations', current === 'generations'),
      family.uploads.length > 0 ? link('/files', 'Files', current === 'files') : null,
    ),
  );
}

/** `base?query` with `changes` applied to the view's current query; empty values and a 0 offset are left out. */
export function hashWith(base: string, current: Record<string, string | number>, changes: Record<string, string | number>): string {
  const next = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...current, ...changes })) if (value !== '' && !(key === 'offset' && Number(value) === 0)) next.set(key, String(value));
  const query = next.toString();
  return query ? `${base}?${query}` : base;
}

/** "1–25 of 60" with Previous and Next; a page past the end offers the first one. */
export function pager(offset: number, shown: number, total: number, pageSize: number, hrefFor: (offset: number) => string): HTMLElement {
  if (shown === 0) return h('div', { class: 'row' }, offset > 0 && total > 0 ? h('a', { href: hrefFor(0) }, `First page (${total} in all)`) : null);
  const last = offset + shown;
  return h(
    'div',
    { class: 'row' },
    h('span', { class: 'muted', dataset: { total: String(total) } }, `${offset + 1}–${last} of ${total}`),
    offset > 0 ? h('a', { href: hrefFor(Math.max(0, offset - pageSize)) }, '‹ Previous') : null,
    last < total ? h('a', { href: hrefFor(offset + pageSize) }, 'Next ›') : null,
  );
}

const objectUrls = new Set<string>();

/** A blob's URL, released when the user leaves the page (`releaseObjectUrls`). */
export function objectUrl(blob: Blob): string {
  const url = URL.createObjectURL(blob);
  objectUrls.add(url);
  return url;
}

export function releaseObjectUrls(): void {
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls.clear();
}

/**
 * One stored upload, shown on demand: its bytes come through `/system/<kind>_download` with the
 * token (a plain link could not send it), a PDF's first page through `file_preview`. `label`
 * names it for people (an image's alt text), else its file name; a download is saved under the
 * file name the server gives it.
 */
export function mediaView(api: Api, kind: string, uploadId: string, label?: string): HTMLElement {
  const holder = h('div', { class: 'media', dataset: { upload: uploadId } });
  const problem = (error: unknown) => replaceChildren(holder, problemView(error));
  const fetchBytes = () => api.download(`/system/${kind}_download`, { [`${kind}_id`]: uploadId });
  const show = async () => {
    const { blob, filename } = await fetchBytes();
    const url = objectUrl(blob);
    const name = label ?? filename ?? `${kind} ${uploadId}`;
    if (kind === 'image') replaceChildren(holder, h('img', { src: url, alt: name }));
    else if (kind === 'video') replaceChildren(holder, h('video', { src: url, controls: true, attrs: { 'aria-label': name } }));
    else if (kind === 'audio') replaceChildren(holder, h('audio', { src: url, controls: true, attrs: { 'aria-label': name } }));
    else if (kind === 'text') replaceChildren(holder, h('pre', {}, await blob.text()));
  };
  const firstPage = async () => {
    const blob = await api.blob('/system/file_preview', { file_id: uploadId });
    replaceChildren(holder, h('img', { src: objectUrl(blob), alt: `First page of ${label ?? `file ${uploadId}`}` }));
  };
  const download = async () => {
    const { blob, filename } = await fetchBytes();
    const link = h('a', { href: objectUrl(blob), download: filename ?? uploadId });
    link.click();
  };
  const button = (text: string, work: () => Promise<void>) => h('button', { type: 'button', on: { click: () => void work().catch(problem) } }, text);
  return h(
    'div',
    {},
    h('div', { class: 'row' }, h('code', {}, `${kind} ${uploadId}`), kind === 'file' ? button('First page', firstPage) : button('Show', show), button('Download', download)),
    holder,
  );
}
