/** How results are shown: one JSON document with --json, readable tables and key/value lines otherwise. */

export interface Output {
  json: boolean;
  /** stdout is a terminal: progress bars and colours are welcome. */
  tty: boolean;
  /** A line on stdout (newline added). */
  out(text: string): void;
  /** Text on stdout as is, for output that grows within a line. */
  write(text: string): void;
  err(text: string): void;
}

/**
 * C0 and C1 control characters, DEL included, but not newline and tab, which layouts use; and the
 * bidirectional embeddings, overrides and isolates, which reorder what follows them on the line.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from the server made safe for a terminal: control characters (an ESC that would start a
 * colour or title sequence, a BEL, a CR that would overwrite the line) and bidirectional
 * overrides (a name that shows its characters in another order than they are) shown as `\u001b`
 * escapes. Right-to-left text itself needs none of them and is shown as is.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Human output is escaped (server values reach every line: tables, frames, messages, errors);
 * --json output is exact JSON, written as is.
 */
export function terminalOutput(json: boolean): Output {
  const safe = json ? (text: string) => text : escapeControls;
  return {
    json,
    tty: Boolean(process.stdout.isTTY),
    out: (text) => void process.stdout.write(safe(text.endsWith('\n') ? text : `${text}\n`)),
    write: (text) => void process.stdout.write(safe(text)),
    err: (text) => void process.stderr.write(safe(text.endsWith('\n') ? text : `${text}\n`)),
  };
}

type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function formatTable(rows: Row[], columns: string[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(row[column]).replace(/\s+/g, ' ')));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index]!.length)));
  const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

function indent(text: string, by: string): string {
  return text.split('\n').map((line) => by + line).join('\n');
}

/** `key  value` lines; objects and arrays pretty-printed below their key. */
export function formatKeyValues(object: Row): string {
  const width = Math.max(0, ...Object.keys(object).map((key) => key.length));
  const nested = (value: unknown) => value !== null && typeof value === 'object';
  // Scalars first, so a record's id, name and status are not pushed below a long `data`.
  const entries = [...Object.entries(object).filter(([, value]) => !nested(value)), ...Object.entries(object).filter(([, value]) => nested(value))];
  return entries
    .map(([key, value]) => {
      if (value !== null && typeof value === 'object') {
        const pretty = JSON.stringify(value, null, 2);
        return pretty.includes('\n') ? `${key}:\n${indent(pretty, '  ')}` : `${key.padEnd(width)}  ${pretty}`;
      }
      return `${key.padEnd(width)}  ${cell(value)}`;
    })
    .join('\n');
}

const RECORD_COLUMNS = ['id', 'name', 'status', 'version', 'updated_at'];

function isPage(value: unknown): value is { items: Row[]; total_count?: number } {
  return typeof value === 'object' && value !== null && Array.isArray((value as any).items);
}

/** Columns for a page: the record columns for artifact records, else every scalar field seen. */
function columnsFor(items: Row[]): string[] {
  if (items.length > 0 && RECORD_COLUMNS.every((column) => column in items[0]!)) return RECORD_COLUMNS;
  const columns: string[] = [];
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      if ((value === null || typeof value !== 'object') && !columns.includes(key)) columns.push(key);
    }
  }
  return columns;
}

/** Pages as a table with the total, everything else as key/value lines. */
export function formatResult(result: unknown, columns?: string[]): string {
  if (result === undefined || result === null) return 'ok';
  if (isPage(result)) {
    const table = result.items.length > 0 ? formatTable(result.items, columns ?? columnsFor(result.items)) : '(no results)';
    const total = result.total_count ?? result.items.length;
    return `${table}\n${result.items.length} shown of ${total} total`;
  }
  if (typeof result === 'object' && !Array.isArray(result)) return formatKeyValues(result as Row);
  return JSON.stringify(result, null, 2);
}

export function printResult(output: Output, result: unknown, columns?: string[]): void {
  output.out(output.json ? JSON.stringify(result ?? null, null, 2) : formatResult(result, columns));
}
