/** Builds the page from elements and text nodes only: nothing a server returns is ever parsed as HTML. */
export type Child = Node | string | number | null | undefined | false | Child[];

/** An element's own properties, without index signatures (a form's `[name: string]: any` would swallow `on`). */
type OwnProperties<T> = { [P in keyof T as string extends P ? never : number extends P ? never : P]?: T[P] };

type Props<K extends keyof HTMLElementTagNameMap> = Omit<OwnProperties<HTMLElementTagNameMap[K]>, 'style' | 'dataset'> & {
  class?: string;
  dataset?: Record<string, string>;
  on?: { [E in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[E]) => void };
  attrs?: Record<string, string>;
};

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<K> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  const { class: className, dataset, on, attrs, ...rest } = props;
  if (className) element.className = className;
  Object.assign(element, rest);
  for (const [key, value] of Object.entries(dataset ?? {})) element.dataset[key] = value;
  for (const [key, value] of Object.entries(attrs ?? {})) element.setAttribute(key, value);
  for (const [name, listener] of Object.entries(on ?? {})) element.addEventListener(name, listener as EventListener);
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export const badge = (text: string) => h('span', { class: `badge ${text}` }, text);
