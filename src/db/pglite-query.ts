import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { prepareValue } from 'pg/lib/utils.js';

export interface PgliteQueryResult {
  rows: Record<string, unknown>[];
  affectedRows: number;
}

interface Column {
  name: string;
  parse: (text: string) => unknown;
}

/**
 * One parameterized statement on PGlite, as node-postgres sends it to a server: Parse, Bind,
 * Describe, Execute and Sync in a single call into PGlite, parameters serialized by
 * node-postgres's own `prepareValue` (types left for the server to infer) and result columns
 * parsed by the same `pg-types` parsers the PostgreSQL backend uses.
 *
 * Why not `pglite.query`: it makes six calls into the WebAssembly module per statement (parse,
 * describe the statement, bind, describe the portal, execute, sync) and then re-parses the result
 * with its own parsers; profiled under load, that wrapper cost about as much main-thread time as
 * PostgreSQL executing the SQL. This path takes half of it or less, and both backends now hand the
 * code identical JavaScript values. `execProtocol` still routes notifications to `listen`ers and
 * syncs the file system after the statement, as `query` does.
 */
export async function pgliteQuery(pglite: PGlite, text: string, values: readonly unknown[]): Promise<PgliteQueryResult> {
  const message = Buffer.concat([
    serialize.parse({ text, types: [] }),
    serialize.bind({ values: values.map((value) => prepareValue(value)) as (string | Buffer | null)[] }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  const { messages } = await pglite.runExclusive(() => {
    // pglite.query refuses a closed database; execProtocol does not, and on a closed module its
    // protocol loop never returns (a busy loop no timer can interrupt).
    if (pglite.closed || !pglite.ready) throw new Error(pglite.closed ? 'PGlite is closed' : 'PGlite is closing');
    return pglite.execProtocol(message);
  });
  let columns: Column[] = [];
  const rows: Record<string, unknown>[] = [];
  let affectedRows = 0;
  for (const reply of messages as { name: string; [key: string]: any }[]) {
    if (reply.name === 'dataRow') {
      const row: Record<string, unknown> = {};
      const fields = reply.fields as (string | null)[];
      for (let index = 0; index < columns.length; index += 1) {
        const field = fields[index];
        row[columns[index]!.name] = field === null || field === undefined ? null : columns[index]!.parse(field);
      }
      rows.push(row);
    } else if (reply.name === 'rowDescription') {
      columns = (reply.fields as { name: string; dataTypeID: number }[]).map((field) => ({ name: field.name, parse: pg.types.getTypeParser(field.dataTypeID, 'text') }));
    } else if (reply.name === 'commandComplete') {
      affectedRows += affectedRowsOf(reply.text as string);
    }
  }
  return { rows, affectedRows };
}

/** The row count of a command tag ("INSERT 0 3", "UPDATE 2"); 0 for the others, as PGlite reports. */
function affectedRowsOf(tag: string): number {
  const words = tag.split(' ');
  if (words[0] === 'INSERT') return Number(words[2]);
  if (words[0] === 'UPDATE' || words[0] === 'DELETE' || words[0] === 'MERGE' || words[0] === 'COPY') return Number(words[1]);
  return 0;
}
