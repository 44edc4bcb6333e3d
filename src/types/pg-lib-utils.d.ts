// node-postgres's parameter serializer, used for PGlite too (src/db/pglite-query.ts); pg ships no types for its lib/ files.
declare module 'pg/lib/utils.js' {
  export function prepareValue(value: unknown): string | Buffer | null;
}
