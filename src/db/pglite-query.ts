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
 * One parameterized statement on PGlite, as node-postgres sends it to a server: Parse (once per
 * SQL text, as a named statement; see PreparedStatements), Bind, Describe, Execute and Sync in a
 * single call into PGlite, parameters serialized by
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
export function pgliteQuery(pglite: PGlite, text: string, values: readonly unknown[]): Promise<PgliteQueryResult> {
  return runStatement(pglite, text, values, false);
}

async function runStatement(pglite: PGlite, text: string, values: readonly unknown[], retried: boolean): Promise<PgliteQueryResult> {
  const parameters = values.map((value) => prepareValue(value)) as (string | Buffer | null)[];
  const statements = preparedStatements(pglite);
  const { messages, failure, runAgain } = await pglite.runExclusive(async () => {
    // pglite.query refuses a closed database; execProtocol does not, and on a closed module its
    // protocol loop never returns (a busy loop no timer can interrupt).
    if (pglite.closed || !pglite.ready) throw new Error(pglite.closed ? 'PGlite is closed' : 'PGlite is closing');
    // Named, closed and forgotten while holding the connection, so the names match what the database has.
    const prepared = statements.take(text);
    const closing = statements.evicted();
    const message = Buffer.concat([
      ...closing.map((name) => serialize.close({ type: 'S', name })),
      ...(prepared.isNew ? [serialize.parse({ name: prepared.name, text, types: [] })] : []),
      serialize.bind({ statement: prepared.name, values: parameters }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    let messages: Awaited<ReturnType<PGlite['execProtocol']>>['messages'];
    try {
      messages = (await pglite.execProtocol(message, { throwOnError: false })).messages;
    } catch (error) {
      statements.undo(text, prepared, closing);
      throw error;
    }
    const failure = messages.find((reply) => reply.name === 'error') as (Error & { code?: string }) | undefined;
    let runAgain = false;
    // A statement whose Parse failed does not exist.
    if (prepared.isNew && !messages.some((reply) => reply.name === 'parseComplete')) statements.forget(text, prepared.name, false);
    else if (failure && !prepared.isNew && !messages.some((reply) => reply.name === 'bindComplete') && isStalePreparedStatement(failure)) {
      // Refused at Bind: closed by someone else (a DEALLOCATE), or its plan no longer fits its
      // tables (a column added under a SELECT *). The next call prepares it anew; outside a
      // transaction nothing was lost, so this one runs again at once.
      statements.forget(text, prepared.name, failure.code === PLAN_NO_LONGER_FITS);
      const ready = messages.findLast((reply) => reply.name === 'readyForQuery') as { status?: string } | undefined;
      runAgain = !retried && ready?.status === 'I';
    }
    return { messages, failure, runAgain };
  });
  if (runAgain) return runStatement(pglite, text, values, true);
  if (failure) throw failure;
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

/**
 * The named statements prepared on one PGlite database, by SQL text: a server sends the same
 * texts over and over, and a prepared one skips parsing and analysis (and, once PostgreSQL settles
 * on a generic plan, planning). At most MAX_PREPARED are kept; the least recently used is closed
 * in the same call that pushes it out.
 */
class PreparedStatements {
  private readonly names = new Map<string, string>();
  private closing: string[] = [];
  private minted = 0;

  take(text: string): { name: string; isNew: boolean } {
    const known = this.names.get(text);
    if (known !== undefined) {
      this.names.delete(text);
      this.names.set(text, known);
      return { name: known, isNew: false };
    }
    const name = `glow_${(this.minted += 1)}`;
    this.names.set(text, name);
    if (this.names.size > MAX_PREPARED) {
      const [oldestText, oldestName] = this.names.entries().next().value as [string, string];
      this.names.delete(oldestText);
      this.closing.push(oldestName);
    }
    return { name, isNew: true };
  }

  /** The statements to close before the next one runs (each handed out once). */
  evicted(): string[] {
    const names = this.closing;
    this.closing = [];
    return names;
  }

  /** Drops `text`'s statement if it is still `name` (closing it with the next statement if `close`). */
  forget(text: string, name: string, close: boolean): void {
    if (this.names.get(text) !== name) return;
    this.names.delete(text);
    if (close) this.closing.push(name);
  }

  /** A message that never reached the database: its new statement does not exist, its closes still have to be sent. */
  undo(text: string, prepared: { name: string; isNew: boolean }, closing: string[]): void {
    if (prepared.isNew) this.forget(text, prepared.name, false);
    this.closing.push(...closing);
  }
}

const MAX_PREPARED = 256;
/** "cached plan must not change result type": the tables under a prepared statement changed shape. */
const PLAN_NO_LONGER_FITS = '0A000';
/** "prepared statement … does not exist". */
const NO_SUCH_STATEMENT = '26000';

function isStalePreparedStatement(failure: Error & { code?: string }): boolean {
  return (
    failure.code === NO_SUCH_STATEMENT || (failure.code === PLAN_NO_LONGER_FITS && /cached plan must not change result type/.test(failure.message))
  );
}

const preparedByDatabase = new WeakMap<PGlite, PreparedStatements>();

function preparedStatements(pglite: PGlite): PreparedStatements {
  let statements = preparedByDatabase.get(pglite);
  if (!statements) preparedByDatabase.set(pglite, (statements = new PreparedStatements()));
  return statements;
}

/** The row count of a command tag ("INSERT 0 3", "UPDATE 2"); 0 for the others, as PGlite reports. */
function affectedRowsOf(tag: string): number {
  const words = tag.split(' ');
  if (words[0] === 'INSERT') return Number(words[2]);
  if (words[0] === 'UPDATE' || words[0] === 'DELETE' || words[0] === 'MERGE' || words[0] === 'COPY') return Number(words[1]);
  return 0;
}
