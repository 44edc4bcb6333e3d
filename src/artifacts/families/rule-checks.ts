/** Checks the families' rules across fields share. */

/** Typed values kept as text (a setting's value, a parameter's default): what each type reads. */
export type TextValueType = 'string' | 'integer' | 'number' | 'boolean';

const READS_AS: Record<Exclude<TextValueType, 'string'>, { pattern: RegExp; example: string }> = {
  integer: { pattern: /^-?\d+$/, example: "a whole number such as '90'" },
  number: { pattern: /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?$/, example: "a number such as '0.7'" },
  boolean: { pattern: /^(?:true|false)$/, example: "'true' or 'false'" },
};

/** Why `text` is not a value of `type` (for a rule's message), or undefined when it is. */
export function typedTextBreach(type: TextValueType, text: string, typeField: string): string | undefined {
  if (type === 'string') return undefined;
  const { pattern, example } = READS_AS[type];
  // '1e400' is a number's form but not a number (Infinity); an integer past 2^53 is not kept exactly.
  const reads = pattern.test(text) && (type === 'boolean' || (type === 'integer' ? Number.isSafeInteger(Number(text)) : Number.isFinite(Number(text))));
  return reads ? undefined : `must read as ${type}, as ${typeField} says: ${example}, not ${JSON.stringify(text.slice(0, 40))}`;
}

/** Each item whose key an earlier item already has (`at`), with the first item that has it (`first`). */
export function repeats<T>(items: readonly T[], keyOf: (item: T) => string): { at: number; first: number }[] {
  const firstWith = new Map<string, number>();
  const found: { at: number; first: number }[] = [];
  items.forEach((item, at) => {
    const key = keyOf(item);
    const first = firstWith.get(key);
    if (first === undefined) firstWith.set(key, at);
    else found.push({ at, first });
  });
  return found;
}
