import { z } from 'zod';
import { ARTIFACT_TYPES } from '../types.ts';
import { defineFamily } from './define.ts';
import { SUBJECT_FAMILIES, clip, findMentioned, instructionText, matchByCues, pick, snakeIdentifier, titleFrom } from './offline-text.ts';

const FIELD_TYPES = [
  'text', 'long_text', 'number', 'integer', 'boolean', 'date', 'single_select', 'multi_select', 'email', 'url',
] as const;

const fieldOption = z.strictObject({
  value: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit')
    .describe("Stored value, lower-case, e.g. 'year_1'."),
  label: z.string().min(1).max(100)
    .describe("What users see, e.g. 'Year 1'."),
});

const fieldData = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be 1 to 64 lower-case letters, digits or _, starting with a letter')
    .describe("Machine name in snake_case, unique per artifact family, e.g. 'year_of_study'."),
  label: z.string().min(1).max(100)
    .describe("Name shown on forms, e.g. 'Year of study'."),
  type: z.enum(FIELD_TYPES)
    .describe('Kind of value: text, long_text, number, integer, boolean, date (YYYY-MM-DD), single_select or multi_select (from options), email, url.'),
  applies_to: z.enum(ARTIFACT_TYPES)
    .describe('Artifact family whose records carry this field, e.g. persona or profile.'),
  options: z.array(fieldOption).min(1).max(100).optional()
    .describe('Choices for single_select and multi_select fields; omit for other types.'),
  required: z.boolean().optional()
    .describe('Whether every record must fill the field.'),
  help_text: z.string().min(1).max(500).optional()
    .describe('Hint shown under the input.'),
  placeholder: z.string().min(1).max(100).optional()
    .describe('Example value shown in the empty input.'),
});

const SAMPLE_OPTIONS = [
  [{ value: 'year_1', label: 'Year 1' }, { value: 'year_2', label: 'Year 2' }, { value: 'year_3', label: 'Year 3' }, { value: 'year_4', label: 'Year 4' }],
  [{ value: 'low', label: 'Low' }, { value: 'medium', label: 'Medium' }, { value: 'high', label: 'High' }],
  [{ value: 'yes', label: 'Yes' }, { value: 'no', label: 'No' }, { value: 'unsure', label: 'Not sure' }],
] as const;

function optionsFor(text: string, random: () => number): (typeof SAMPLE_OPTIONS)[number] {
  if (/\byears?\b/i.test(text)) return SAMPLE_OPTIONS[0];
  if (/\b(level|risk|priority)\b/i.test(text)) return SAMPLE_OPTIONS[1];
  return pick(random, SAMPLE_OPTIONS);
}

export const fieldFamily = defineFamily({
  type: 'field',
  plural: 'fields',
  summary: 'A custom field the org adds to an artifact family, such as a persona\'s year of study.',
  data: fieldData,
  writeRole: 'member',
  example: {
    key: 'year_of_study',
    label: 'Year of study',
    type: 'single_select',
    applies_to: 'persona',
    options: [
      { value: 'year_1', label: 'Year 1' },
      { value: 'year_2', label: 'Year 2' },
      { value: 'postgraduate', label: 'Postgraduate' },
    ],
    required: false,
    help_text: 'Which year the persona is in; shapes how much they know.',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const type = matchByCues(text, {
      multi_select: ['multi', 'multiple', 'tags', 'checkboxes'],
      single_select: ['select', 'dropdown', 'choice', 'one of', 'level'],
      boolean: ['yes/no', 'boolean', 'checkbox', 'whether', 'flag'],
      date: ['date', 'deadline', 'birthday'],
      integer: ['count', 'number of', 'integer', 'age', 'year'],
      number: ['amount', 'score', 'percentage', 'decimal'],
      email: ['email', 'e-mail'],
      url: ['url', 'link', 'website'],
      long_text: ['notes', 'paragraph', 'long text', 'comments'],
    }) ?? pick(random, ['text', 'single_select'] as const);
    const appliesTo = findMentioned(text, SUBJECT_FAMILIES) ?? pick(random, ['persona', 'scenario', 'profile'] as const);
    const baseKey = snakeIdentifier(text.replace(new RegExp(`\\b${appliesTo}s?\\b`, 'gi'), ''), 'custom_field', 58);
    const key = index === 0 ? baseKey : `${baseKey}_${index + 1}`.slice(0, 64);
    const label = clip(titleFrom(text.replace(new RegExp(`\\b${appliesTo}s?\\b`, 'gi'), ''), 'Custom field', 4), 100);
    const isSelect = type === 'single_select' || type === 'multi_select';
    return {
      name: index === 0 ? label : `${label} (${index + 1})`,
      description: clip(text.length > 0 ? text : `A custom ${appliesTo} field.`, 500),
      data: {
        key,
        label,
        type,
        applies_to: appliesTo,
        ...(isSelect ? { options: [...optionsFor(text, random)] } : {}),
        required: pick(random, [true, false]),
        help_text: clip(text.length > 0 ? text : `Extra detail about the ${appliesTo}.`, 500),
      },
    };
  },
});
