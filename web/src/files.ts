import type { Family } from './api.ts';
import { h, replaceChildren } from './dom.ts';
import type { Context } from './main.ts';
import { familyHeader, mediaView, problemView } from './parts.ts';

/** Uploads through the family's own routes (the seed's matrix), and any upload opened by its id. */
export function renderFiles({ api, me, catalog, main }: Context, family: Family): void {
  const kind = h('select', { name: 'kind' }, family.uploads.map((value) => h('option', { value }, value)));
  const file = h('input', { type: 'file', name: 'file', required: true });
  const name = h('input', { name: 'name', placeholder: 'defaults to the file name', size: 30 });
  const description = h('input', { name: 'description', size: 40 });
  const uploaded = h('div', { attrs: { 'aria-live': 'polite' } });
  const send = h('button', { class: 'primary', type: 'submit' }, 'Upload');
  const upload = async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    send.disabled = true;
    try {
      const ids = await api.upload<Record<string, string>>(`/${family.type}/${kind.value}_upload`, chosen, { name: name.value.trim(), description: description.value.trim() });
      uploaded.prepend(
        h(
          'div',
          { class: 'card', dataset: { uploadId: ids.upload_id! } },
          h('p', {}, h('strong', {}, name.value.trim() || chosen.name), ` stored: upload_id ${ids.upload_id}, ${kind.value}s_id ${ids[`${kind.value}s_id`]}`),
          mediaView(api, kind.value, ids.upload_id!, name.value.trim() || chosen.name),
        ),
      );
      file.value = '';
      name.value = '';
      description.value = '';
    } catch (error) {
      uploaded.prepend(problemView(error));
    } finally {
      send.disabled = false;
    }
  };

  const lookupKind = h('select', { name: 'lookup_kind' }, catalog.media_kinds.map((value) => h('option', { value }, value)));
  const lookupId = h('input', { name: 'upload_id', placeholder: 'an upload_id, or its <kind>s_id', size: 40, required: true });
  const found = h('div', {});

  replaceChildren(
    main,
    familyHeader(family, 'files', me),
    family.uploads.length === 0
      ? h('p', { class: 'muted' }, `Nothing is uploaded through ${family.plural}; attempts, scenarios and documents take uploads.`)
      : h(
          'form',
          { class: 'card', on: { submit: (event) => { event.preventDefault(); void upload(); } } },
          h('h2', {}, 'Upload'),
          h('div', { class: 'row' }, h('label', {}, 'Kind', kind), h('label', {}, 'File', file), h('label', {}, 'Name', name), h('label', {}, 'Description', description)),
          h('div', { class: 'row' }, send),
        ),
    uploaded,
    h(
      'form',
      {
        class: 'card',
        on: {
          submit: (event) => {
            event.preventDefault();
            replaceChildren(found, mediaView(api, lookupKind.value, lookupId.value.trim()));
          },
        },
      },
      h('h2', {}, 'Open an upload'),
      h('div', { class: 'row' }, h('label', {}, 'Kind', lookupKind), h('label', {}, 'Id', lookupId), h('button', { type: 'submit' }, 'Open')),
      found,
    ),
  );
}
