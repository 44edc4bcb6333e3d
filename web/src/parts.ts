import { ApiError, type Api, type Family } from './api.ts';
import { h, replaceChildren } from './dom.ts';

/** An API error as the user should read it: the message, then each bad or unknown field. */
export function problemView(error: unknown): HTMLElement {
  if (!(error instanceof ApiError)) return h('div', { class: 'error' }, error instanceof Error ? error.message : String(error));
  const fields = (error.details?.fields as { path: string; message: string }[] | undefined) ?? [];
  const unknown = (error.details?.unknown_fields as string[] | undefined) ?? [];
  return h(
    'div',
    { class: 'error', attrs: { role: 'alert' } },
    h('strong', {}, error.message),
    fields.length + unknown.length > 0
      ? h('ul', {}, fields.map((field) => h('li', {}, h('code', {}, field.path), ` ${field.message}`)), unknown.map((name) => h('li', {}, h('code', {}, name), ' is not a known field')))
      : null,
  );
}

export function familyHeader(family: Family, current: 'list' | 'generate' | 'generations' | 'record' | 'files'): HTMLElement {
  const link = (view: string, label: string, active: boolean) => (active ? h('strong', {}, label) : h('a', { href: `#/${family.type}${view}` }, label));
  return h(
    'div',
    {},
    h('h1', {}, family.plural),
    h('p', { class: 'muted' }, family.summary),
    h(
      'div',
      { class: 'row' },
      family.crud ? link('', 'Records', current === 'list') : null,
      family.crud ? link('/new', 'New', false) : null,
      link('/generate', 'Generate', current === 'generate'),
      link('/generations', 'Generations', current === 'generations'),
      family.uploads.length > 0 ? link('/files', 'Files', current === 'files') : null,
    ),
  );
}

/**
 * One stored upload, shown on demand: its bytes come through `/system/<kind>_download` with the
 * token (a plain link could not send it), a PDF's first page through `file_preview`.
 */
export function mediaView(api: Api, kind: string, uploadId: string, fileName = uploadId): HTMLElement {
  const holder = h('div', { class: 'media', dataset: { upload: uploadId } });
  const problem = (error: unknown) => replaceChildren(holder, problemView(error));
  const bytes = () => api.blob(`/system/${kind}_download`, { [`${kind}_id`]: uploadId });
  const show = async () => {
    const blob = await bytes();
    const url = URL.createObjectURL(blob);
    if (kind === 'image') replaceChildren(holder, h('img', { src: url, alt: fileName }));
    else if (kind === 'video') replaceChildren(holder, h('video', { src: url, controls: true }));
    else if (kind === 'audio') replaceChildren(holder, h('audio', { src: url, controls: true }));
    else if (kind === 'text') replaceChildren(holder, h('pre', {}, await blob.text()));
  };
  const firstPage = async () => {
    const blob = await api.blob('/system/file_preview', { file_id: uploadId });
    replaceChildren(holder, h('img', { src: URL.createObjectURL(blob), alt: `First page of ${fileName}` }));
  };
  const download = async () => {
    const link = h('a', { href: URL.createObjectURL(await bytes()), download: fileName });
    link.click();
  };
  const button = (label: string, work: () => Promise<void>) => h('button', { type: 'button', on: { click: () => void work().catch(problem) } }, label);
  return h(
    'div',
    {},
    h('div', { class: 'row' }, h('code', {}, `${kind} ${uploadId}`), kind === 'file' ? button('First page', firstPage) : button('Show', show), button('Download', download)),
    holder,
  );
}
