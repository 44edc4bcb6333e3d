import { h, replaceChildren, type Child } from './dom.ts';

/** The part of JSON Schema the families' data schemas use (as the server's zod schemas convert). */
export interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
}

/**
 * An editor of one value: `read` gives what the user entered, or undefined to leave the field out.
 * A group's `read(true)` (a draft, which the server checks field by field) leaves out its fields the user left empty.
 */
export interface ValueEditor {
  element: HTMLElement;
  read(partial?: boolean): unknown;
  /** Left empty by the user (an optional group whose fields all are is left out). */
  blank(): boolean;
}

interface Place {
  /** Where the value sits in the request body (`data.criteria[0].name`): the name of its control, and how the server's errors point at it. */
  path: string;
  label: string;
  required: boolean;
  readOnly: boolean;
  /** Said under the control after the schema's own description (e.g. which record an id names). */
  note?: string;
}

type Kind = 'choice' | 'text' | 'number' | 'boolean' | 'lines' | 'list' | 'object';

const typeOf = (schema: JsonSchema) => (Array.isArray(schema.type) ? schema.type.find((type) => type !== 'null') : schema.type);

/** What control edits values of this schema; undefined for a shape the form does not draw (edited as JSON). */
function kindOf(schema: JsonSchema): Kind | undefined {
  if (schema.enum) return schema.enum.every((value) => typeof value === 'string') ? 'choice' : undefined;
  const type = typeOf(schema);
  if (type === 'string') return 'text';
  if (type === 'number' || type === 'integer') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'array' && schema.items) {
    const items = kindOf(schema.items);
    if (items === 'text') return 'lines';
    if (items === 'object') return 'list';
    return undefined;
  }
  if (type === 'object' && schema.properties) return Object.values(schema.properties).every((property) => kindOf(property)) ? 'object' : undefined;
  return undefined;
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a text control for this schema is a one-line input (else a textarea). */
const isLong = (schema: JsonSchema) => schema.format === undefined && schema.pattern === undefined && (schema.maxLength === undefined || schema.maxLength > 200);

/**
 * Whether the form shows `value` exactly, so that reading the untouched form gives it back: every
 * key is one the schema lists and every required one is there (a draft may lack some), every value
 * of the type its control edits, no text the control would change (a line break in a one-line
 * input, a carriage return), no optional value the form would leave out because it is empty, and
 * a list of texts (one per line) holds no line breaks, blank items or edge spaces the lines would lose.
 */
export function formShows(schema: JsonSchema, value: unknown, required = true): boolean {
  const kind = kindOf(schema);
  if (!kind) return false;
  if (value === undefined) return !required;
  switch (kind) {
    case 'choice':
      return typeof value === 'string' && schema.enum!.includes(value);
    case 'text':
      return typeof value === 'string' && !value.includes('\r') && (isLong(schema) || !value.includes('\n')) && (required || value !== '');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'lines':
      return Array.isArray(value) && (required || value.length > 0) && value.every((item) => typeof item === 'string' && item !== '' && item === item.trim() && !/[\r\n]/.test(item));
    case 'list':
      return Array.isArray(value) && (required || value.length > 0) && value.every((item) => isPlainObject(item) && formShows(schema.items!, item));
    case 'object': {
      if (!isPlainObject(value)) return false;
      const properties = schema.properties!;
      const requiredKeys = new Set(schema.required ?? []);
      if (!required && Object.keys(value).length === 0) return false;
      return (
        Object.keys(value).every((key) => properties[key] !== undefined) &&
        Object.entries(properties).every(([key, property]) => formShows(property, value[key], requiredKeys.has(key)))
      );
    }
  }
}

/** `speaking_style` → "Speaking style". */
const labelOf = (key: string) => {
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** One item of a list: "Criteria" → "Criterion", "Levels" → "Level", "Criterion scores" → "Criterion score". */
const singularOf = (label: string) => label.replace(/ia$/, 'ion').replace(/ies$/, 'y').replace(/([^s])s$/, '$1');

function fieldOf(place: Place, schema: JsonSchema, control: HTMLElement, extraNote?: string): HTMLElement {
  const notes = [schema.description, place.note, extraNote].filter(Boolean).join(' ');
  return h(
    'div',
    { class: 'field', dataset: { path: place.path } },
    h('label', {}, h('span', {}, place.label, place.required ? null : h('span', { class: 'optional' }, ' (optional)')), control, notes ? h('small', { class: 'hint' }, notes) : null),
    h('div', { class: 'field-error' }),
  );
}

function textEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  // Prose gets room to be read; names, ids, tags and codes get one line.
  const long = isLong(schema);
  const common = { name: place.path, value: typeof value === 'string' ? value : '', required: place.required, readOnly: place.readOnly };
  const control = long
    ? h('textarea', { ...common, class: 'prose', rows: 3 })
    : h('input', { ...common, type: schema.format === 'email' ? 'email' : 'text', size: schema.format === 'uuid' ? 38 : 60, ...(schema.maxLength ? { maxLength: schema.maxLength } : {}) });
  return {
    element: fieldOf(place, schema, control),
    // A required text left empty is sent empty: the server names it.
    read: () => (control.value === '' && !place.required ? undefined : control.value),
    blank: () => control.value === '',
  };
}

function choiceEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  const options = (schema.enum as string[]).map((option) => h('option', { value: option, selected: option === value }, option));
  const control = h('select', { name: place.path, disabled: place.readOnly }, place.required ? null : h('option', { value: '', selected: value === undefined }, '—'), options);
  return { element: fieldOf(place, schema, control), read: () => (control.value === '' ? undefined : control.value), blank: () => control.value === '' };
}

function numberEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  // zod's integers carry the safe-integer range as their bounds: no use to a person.
  const bound = (limit: number | undefined) => (limit !== undefined && Math.abs(limit) < 1e15 ? String(limit) : undefined);
  const [min, max] = [bound(schema.minimum), bound(schema.maximum)];
  const control = h('input', {
    name: place.path,
    type: 'number',
    step: typeOf(schema) === 'integer' ? '1' : 'any',
    value: typeof value === 'number' ? String(value) : '',
    required: place.required,
    readOnly: place.readOnly,
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
  });
  return {
    element: fieldOf(place, schema, control, min !== undefined && max !== undefined ? `From ${min} to ${max}.` : undefined),
    // What the browser cannot read as a number reads as empty; a required one is then missing, and the server says so.
    read: () => (Number.isNaN(control.valueAsNumber) ? undefined : control.valueAsNumber),
    blank: () => Number.isNaN(control.valueAsNumber),
  };
}

function booleanEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  if (place.required) {
    const control = h('input', { type: 'checkbox', name: place.path, checked: value === true, disabled: place.readOnly });
    return { element: fieldOf(place, schema, control), read: () => control.checked, blank: () => !control.checked };
  }
  // Left out is not the same as false: an optional yes/no has three answers.
  const control = h(
    'select',
    { name: place.path, disabled: place.readOnly },
    h('option', { value: '', selected: value === undefined }, '—'),
    h('option', { value: 'true', selected: value === true }, 'yes'),
    h('option', { value: 'false', selected: value === false }, 'no'),
  );
  return { element: fieldOf(place, schema, control), read: () => (control.value === '' ? undefined : control.value === 'true'), blank: () => control.value === '' };
}

function linesEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  const items = Array.isArray(value) ? (value as string[]) : [];
  const control = h('textarea', { name: place.path, class: 'prose', rows: Math.min(8, Math.max(3, items.length + 1)), value: items.join('\n'), readOnly: place.readOnly });
  const lines = () => control.value.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return {
    element: fieldOf(place, schema, control, 'One per line.'),
    read: () => (lines().length === 0 && !place.required ? undefined : lines()),
    blank: () => lines().length === 0,
  };
}

/** A field made of fields (a group, or a list of groups): a fieldset with its legend, description and error slot. */
function groupOf(place: Place, schema: JsonSchema, kind: 'list' | 'object', ...content: Child[]): HTMLElement {
  return h(
    'fieldset',
    { class: `field ${kind}`, dataset: { path: place.path } },
    h('legend', {}, place.label, place.required ? null : h('span', { class: 'optional' }, ' (optional)')),
    schema.description ? h('small', { class: 'hint' }, schema.description) : null,
    h('div', { class: 'field-error' }),
    content,
  );
}

function listEditor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  const itemSchema = schema.items!;
  const itemLabel = singularOf(place.label);
  const holder = h('div', { class: 'items' });
  let editors: ValueEditor[] = [];
  const draw = (values: unknown[]) => {
    editors = values.map((item, index) => {
      const editor = objectEditor({ path: `${place.path}[${index}]`, label: `${itemLabel} ${index + 1}`, required: true, readOnly: place.readOnly }, itemSchema, item);
      if (!place.readOnly) {
        const remove = h('button', { type: 'button', class: 'small', on: { click: () => draw(current().filter((_, at) => at !== index)) } }, `Remove ${itemLabel.toLowerCase()} ${index + 1}`);
        editor.element.querySelector('legend')?.after(remove);
      }
      return editor;
    });
    replaceChildren(holder, editors.map((editor) => editor.element));
  };
  // Items as entered so far, each whole (an empty one stays, for the user to fill or remove).
  const current = () => editors.map((editor) => editor.read() ?? {});
  draw(Array.isArray(value) ? value : []);
  const add = place.readOnly ? null : h('button', { type: 'button', on: { click: () => draw([...current(), undefined]) } }, `Add ${itemLabel.toLowerCase()}`);
  const element = groupOf(place, schema, 'list', holder, add);
  return { element, read: () => (editors.length === 0 && !place.required ? undefined : current()), blank: () => editors.length === 0 };
}

function objectEditor(place: Place, schema: JsonSchema, value: unknown, notes: Record<string, string> = {}): ValueEditor {
  const values = isPlainObject(value) ? value : {};
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties ?? {}).map(([key, property]) => ({
    key,
    editor: editorFor(
      { path: `${place.path}.${key}`, label: labelOf(key), required: required.has(key), readOnly: place.readOnly, ...(notes[key] ? { note: notes[key] } : {}) },
      property,
      values[key],
    ),
  }));
  const element = groupOf(place, schema, 'object', fields.map(({ editor }) => editor.element));
  const blank = () => fields.every(({ editor }) => editor.blank());
  return {
    element,
    read: (partial = false) => {
      // An optional group left wholly empty is left out, not sent with its required fields empty.
      if (!place.required && blank()) return undefined;
      return Object.fromEntries(
        fields
          // A draft's empty fields, required ones too, are left out: the server takes a draft without them.
          .filter(({ editor }) => !(partial && editor.blank()))
          .map(({ key, editor }) => [key, editor.read()] as const)
          .filter(([, item]) => item !== undefined),
      );
    },
    blank,
  };
}

/** The control of each kind of value. */
const EDITORS: Record<Kind, (place: Place, schema: JsonSchema, value: unknown) => ValueEditor> = {
  choice: choiceEditor,
  text: textEditor,
  number: numberEditor,
  boolean: booleanEditor,
  lines: linesEditor,
  list: listEditor,
  object: (place, schema, value) => objectEditor(place, schema, value),
};

function editorFor(place: Place, schema: JsonSchema, value: unknown): ValueEditor {
  const kind = kindOf(schema);
  if (!kind) throw new Error(`The form cannot edit ${place.path}; edit the data as JSON.`);
  return EDITORS[kind](place, schema, value);
}

/**
 * A record's data as a form drawn from its family's schema: a control per field, each with the
 * schema's description under it, optional fields marked, lists that grow and shrink. Only
 * called for data that `formShows`.
 */
export function dataForm(schema: JsonSchema, data: Record<string, unknown>, options: { readOnly: boolean; notes: Record<string, string> }): ValueEditor {
  const editor = objectEditor({ path: 'data', label: 'Data', required: true, readOnly: options.readOnly }, schema, data, options.notes);
  editor.element.classList.add('data-form');
  return editor;
}

/**
 * Puts the server's field errors (`details.fields`, paths like `data.criteria[0].name`) beside
 * the fields they name: on the field itself, or else on the nearest enclosing one drawn.
 */
export function showFieldErrors(form: HTMLElement, errors: { path: string; message: string }[]): void {
  form.querySelectorAll<HTMLElement>('.field.invalid').forEach((field) => {
    field.classList.remove('invalid');
    replaceChildren(field.querySelector(':scope > .field-error')!);
    controlOf(field)?.removeAttribute('aria-invalid');
  });
  const fields = new Map<string, HTMLElement>();
  form.querySelectorAll<HTMLElement>('.field').forEach((field) => fields.set(field.dataset.path!, field));
  for (const error of errors) {
    let path = error.path;
    let field = fields.get(path);
    while (!field && /[.[]/.test(path)) {
      path = path.replace(/(\[\d+\]|\.[^.[]+)$/, '');
      field = fields.get(path);
    }
    if (!field) continue;
    field.classList.add('invalid');
    controlOf(field)?.setAttribute('aria-invalid', 'true');
    const holder = field.querySelector<HTMLElement>(':scope > .field-error')!;
    // The message is read with the control it is about.
    if (!holder.id) holder.id = `error-${(errorIds += 1)}`;
    const control = controlOf(field);
    if (control && !(control.getAttribute('aria-describedby') ?? '').split(' ').includes(holder.id)) {
      control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), holder.id].filter(Boolean).join(' '));
    }
    holder.append(h('div', {}, error.path === path ? error.message : `${error.path.slice(path.length).replace(/^\./, '')}: ${error.message}`));
  }
}

let errorIds = 0;

/** A field's own control (a group has none: its fieldset is marked instead). */
const controlOf = (field: HTMLElement) => field.querySelector<HTMLElement>(':scope > label > input, :scope > label > textarea, :scope > label > select');
