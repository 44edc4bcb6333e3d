import { z } from 'zod';

/**
 * The wording of every validation failure the server reports (API, CLI, console, and the re-ask
 * that quotes a model's mistake back to it): what the field must be, in words a person writing a
 * persona reads without knowing zod ("must be at most 10", not "Too big: expected number to be
 * <=10"). Messages a schema gives itself take precedence; anything not worded here keeps zod's.
 */

const TYPE_NOUNS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  date: 'a date',
  null: 'null',
};

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'string') return 'text';
  if (typeof input === 'number') return Number.isInteger(input) ? 'a number' : 'a fractional number';
  if (typeof input === 'boolean') return input ? 'true' : 'false';
  if (typeof input === 'object') return 'an object';
  return typeof input;
}

function count(amount: number | bigint, noun: string): string {
  return `${amount} ${noun}${Number(amount) === 1 ? '' : 's'}`;
}

const FORMAT_NOUNS: Record<string, string> = {
  uuid: 'a UUID',
  guid: 'a UUID',
  email: 'an email address',
  url: 'a URL',
  datetime: 'an ISO 8601 date-time such as 2026-03-14T09:30:00Z',
  date: 'an ISO 8601 date such as 2026-03-14',
  time: 'an ISO 8601 time such as 09:30:00',
  duration: 'an ISO 8601 duration such as PT30M',
  base64: 'base64 text',
};

type Bound = { origin: string; inclusive?: boolean; exact?: boolean };

function boundMessage(bound: Bound, limit: number | bigint, side: 'least' | 'most'): string | undefined {
  const { origin } = bound;
  const comparison = bound.exact ? 'exactly' : `at ${side}`;
  if (origin === 'string') {
    if (side === 'least' && Number(limit) === 1 && !bound.exact) return 'must not be empty';
    return `must be ${comparison} ${count(limit, 'character')} long`;
  }
  if (origin === 'array' || origin === 'set') {
    if (side === 'least' && Number(limit) === 1 && !bound.exact) return 'must have at least one item';
    return `must have ${comparison} ${count(limit, 'item')}`;
  }
  if (origin === 'number' || origin === 'int' || origin === 'bigint') {
    if (bound.inclusive === false) return `must be ${side === 'least' ? 'greater' : 'less'} than ${limit}`;
    return `must be ${comparison} ${limit}`;
  }
  return undefined;
}

/** One branch of a union, in words, from the issues that branch raised: what it would have taken. */
function unionBranchForm(issues: readonly z.core.$ZodIssue[]): string | undefined {
  const own = issues.filter((issue) => issue.path.length === 0);
  const values = own.find((issue) => issue.code === 'invalid_value');
  if (values && values.code === 'invalid_value') return `one of ${values.values.map((value) => JSON.stringify(value)).join(', ')}`;
  const type = own.find((issue) => issue.code === 'invalid_type');
  if (type && type.code === 'invalid_type') return TYPE_NOUNS[type.expected] ?? type.expected;
  const required = issues.filter((issue) => issue.code === 'invalid_type' && issue.path.length === 1 && issue.message === 'is required').map((issue) => String(issue.path[0]));
  if (required.length > 0 && required.length === issues.length) return `an object with ${required.join(' and ')}`;
  return undefined;
}

export function validationMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const expected = TYPE_NOUNS[issue.expected] ?? issue.expected;
      return `must be ${expected}, not ${describeInput(issue.input)}`;
    }
    case 'too_small':
      return boundMessage(issue, issue.minimum, 'least');
    case 'too_big':
      return boundMessage(issue, issue.maximum, 'most');
    case 'invalid_value': {
      if (issue.input === undefined) return 'is required';
      const values = issue.values.map((value) => (typeof value === 'bigint' ? String(value) : JSON.stringify(value)));
      return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
    }
    case 'invalid_format': {
      const noun = FORMAT_NOUNS[issue.format];
      if (noun) return `must be ${noun}`;
      // A pattern without a message of its own: zod's wording would quote the regular expression.
      return issue.format === 'regex' ? 'is not in the form this field takes' : undefined;
    }
    case 'invalid_union': {
      if (issue.input === undefined) return 'is required';
      const forms = [...new Set(issue.errors.map(unionBranchForm).filter((form): form is string => form !== undefined))];
      return forms.length > 0 ? `is none of the forms this field takes: ${forms.join('; ')}` : 'is none of the forms this field takes';
    }
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    default:
      return undefined;
  }
}
