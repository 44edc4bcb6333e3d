import { ApiError, type Family } from './api.ts';
import { h } from './dom.ts';

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

export function familyHeader(family: Family, current: 'list' | 'generate' | 'generations' | 'record'): HTMLElement {
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
    ),
  );
}
