import { z } from 'zod';
import { ARTIFACT_TYPES } from '../types.ts';
import { defineFamily } from './define.ts';
import { typedTextBreach } from './rule-checks.ts';
import type { DataRuleBreach } from '../types.ts';
import { SUBJECT_FAMILIES, clip, findMentioned, instructionText, matchByCues, numberAfter, pick, snakeIdentifier, titleFrom } from './offline-text.ts';

const PARAMETER_VALUE_TYPES = ['string', 'integer', 'number', 'boolean', 'enum'] as const;

const parameterData = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_.]{0,99}$/, 'must be 1 to 100 lower-case letters, digits, _ or ., starting with a letter, such as attempts.retention_days')
    .describe("Machine name, lower-case with '_' or '.', e.g. 'persona.max_reply_words'."),
  type: z.enum(PARAMETER_VALUE_TYPES)
    .describe('Type of the value: string, integer, number, boolean, or enum (one of allowed_values). default_value must read as this type.'),
  default_value: z.string().max(1000)
    .describe("The value used when nothing overrides it, written as text: '120', '0.7', 'true', 'concise'."),
  label: z.string().min(1).max(100).optional()
    .describe("Human name shown in settings screens, e.g. 'Maximum reply length'."),
  min: z.number().optional()
    .describe('Lowest allowed value for integer and number parameters.'),
  max: z.number().optional()
    .describe('Highest allowed value for integer and number parameters.'),
  step: z.number().min(0).optional()
    .describe('Increment for sliders, e.g. 0.1.'),
  allowed_values: z.array(z.string().min(1).max(100)).min(1).max(50).optional()
    .describe('The choices of an enum parameter, as text: required for enum, and only for enum.'),
  unit: z.string().min(1).max(30).optional()
    .describe("Unit shown next to the value, e.g. 'words', 'seconds', '%'."),
  applies_to: z.enum(ARTIFACT_TYPES).optional()
    .describe('Artifact family the parameter tunes, e.g. persona or simulation.'),
});

interface ParameterPreset {
  cues: readonly string[];
  key: string;
  label: string;
  type: (typeof PARAMETER_VALUE_TYPES)[number];
  defaults: readonly string[];
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  allowedValues?: readonly string[];
}

const PRESETS: readonly ParameterPreset[] = [
  { cues: ['temperature', 'creativ', 'random'], key: 'temperature', label: 'Temperature', type: 'number', defaults: ['0.7', '0.8', '1'], min: 0, max: 2, step: 0.1 },
  { cues: ['length', 'words', 'verbose', 'long'], key: 'max_reply_words', label: 'Maximum reply length', type: 'integer', defaults: ['80', '120', '150'], min: 10, max: 500, step: 10, unit: 'words' },
  { cues: ['turns', 'rounds'], key: 'max_turns', label: 'Maximum turns', type: 'integer', defaults: ['10', '15', '20'], min: 1, max: 200, step: 1, unit: 'turns' },
  { cues: ['time', 'minutes', 'duration'], key: 'time_limit', label: 'Time limit', type: 'integer', defaults: ['10', '15', '20'], min: 1, max: 180, step: 1, unit: 'minutes' },
  { cues: ['difficulty', 'hard', 'level'], key: 'difficulty', label: 'Difficulty', type: 'enum', defaults: ['intermediate'], allowedValues: ['introductory', 'intermediate', 'advanced'] },
  { cues: ['hint', 'coach', 'help'], key: 'hints_enabled', label: 'Hints enabled', type: 'boolean', defaults: ['true', 'false'] },
  { cues: ['intensity', 'pushback', 'resistance'], key: 'intensity', label: 'Intensity', type: 'integer', defaults: ['4', '5', '6'], min: 1, max: 10, step: 1 },
];

export const parameterFamily = defineFamily({
  type: 'parameter',
  plural: 'parameters',
  summary: 'A tunable knob with a type, default and allowed range, such as the maximum reply length of personas.',
  data: parameterData,
  writeRole: 'member',
  rules: (data) => {
    const breaches: DataRuleBreach[] = [];
    if (data.type === 'enum') {
      if (!data.allowed_values) breaches.push({ path: ['allowed_values'], message: 'is required when type is enum: the choices' });
      else if (!data.allowed_values.includes(data.default_value)) breaches.push({ path: ['default_value'], message: `must be one of allowed_values (${data.allowed_values.map((value) => JSON.stringify(value)).join(', ')})` });
    } else {
      if (data.allowed_values) breaches.push({ path: ['allowed_values'], message: `is only for type enum; this parameter's type is ${data.type}` });
      const typeBreach = typedTextBreach(data.type, data.default_value, 'type');
      if (typeBreach) breaches.push({ path: ['default_value'], message: typeBreach });
    }
    if (data.min !== undefined && data.max !== undefined && data.min > data.max) breaches.push({ path: ['max'], message: `must be at least min (${data.min})` });
    const numeric = (data.type === 'integer' || data.type === 'number') && breaches.length === 0 ? Number(data.default_value) : undefined;
    if (numeric !== undefined && data.min !== undefined && numeric < data.min) breaches.push({ path: ['default_value'], message: `must be at least min (${data.min})` });
    if (numeric !== undefined && data.max !== undefined && numeric > data.max) breaches.push({ path: ['default_value'], message: `must be at most max (${data.max})` });
    return breaches;
  },
  example: {
    key: 'persona.max_reply_words',
    type: 'integer',
    default_value: '120',
    label: 'Maximum reply length',
    min: 10,
    max: 500,
    step: 10,
    unit: 'words',
    applies_to: 'persona',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const lower = text.toLowerCase();
    const preset = PRESETS.find((candidate) => candidate.cues.some((cue) => lower.includes(cue))) ?? pick(random, PRESETS);
    const appliesTo = findMentioned(text, SUBJECT_FAMILIES);
    const askedDefault = numberAfter(text, 'default(?: value)?|defaults? to');
    const inRange = askedDefault !== undefined
      && (preset.type === 'integer' || preset.type === 'number')
      && (preset.min === undefined || askedDefault >= preset.min)
      && (preset.max === undefined || askedDefault <= preset.max);
    const explicitKey = matchByCues(text, { named: ['called', 'named', 'key'] }) ? snakeIdentifier(text, preset.key, 60) : preset.key;
    const scopedKey = appliesTo ? `${appliesTo}.${explicitKey}` : explicitKey;
    const key = (index === 0 ? scopedKey : `${scopedKey}_${index + 1}`).slice(0, 100);
    return {
      name: index === 0 ? preset.label : `${preset.label} (${index + 1})`,
      description: clip(text.length > 0 ? text : `${preset.label} parameter.`, 500),
      data: {
        key,
        type: preset.type,
        default_value: inRange ? String(preset.type === 'integer' ? Math.round(askedDefault) : askedDefault) : pick(random, preset.defaults),
        label: preset.label,
        ...(preset.min !== undefined ? { min: preset.min } : {}),
        ...(preset.max !== undefined ? { max: preset.max } : {}),
        ...(preset.step !== undefined ? { step: preset.step } : {}),
        ...(preset.allowedValues ? { allowed_values: [...preset.allowedValues] } : {}),
        ...(preset.unit ? { unit: preset.unit } : {}),
        ...(appliesTo ? { applies_to: appliesTo } : {}),
      },
    };
  },
});
