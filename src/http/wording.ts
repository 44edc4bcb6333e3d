/** The noun with its indefinite article, for messages and summaries: "an attempt", "a persona", "an image". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
