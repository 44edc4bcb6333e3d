import { z } from 'zod';
import { defineFamily } from './define.ts';
import { typedTextBreach } from './rule-checks.ts';
import type { DataRuleBreach } from '../types.ts';
import { clip, instructionText, matchByCues, pick, snakeIdentifier, titleFrom } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const settingData = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_.]{0,99}$/, 'must be 1 to 100 lower-case letters, digits, _ or ., starting with a letter, such as attempts.retention_days')
    .describe("Setting name, lower-case with '_' or '.', e.g. 'attempts.retention_days'."),
  value: z.string().max(4000)
    .describe("The value as text: '90', 'true', 'en-US', or a sentence for text settings."),
  value_type: z.enum(['string', 'integer', 'number', 'boolean']).optional()
    .describe("How to read value; string when omitted. value must read as this type: '90' for integer, '2.5' for number, 'true' or 'false' for boolean."),
  scope: z.enum(['org', 'department', 'cohort'])
    .describe('Where the setting applies: the whole org, one department (department_id), or one cohort (cohort_id).'),
  department_id: uuid().optional()
    .describe('Id of the department: required when scope is department, and only then.'),
  cohort_id: uuid().optional()
    .describe('Id of the cohort: required when scope is cohort, and only then.'),
  notes: z.string().min(1).max(1000).optional()
    .describe('Why the setting has this value, for the next administrator.'),
});

interface SettingPreset {
  cues: readonly string[];
  key: string;
  valueType: 'string' | 'integer' | 'number' | 'boolean';
  values: readonly string[];
}

const PRESETS: readonly SettingPreset[] = [
  { cues: ['retention', 'retain', 'keep', 'delete after'], key: 'attempts.retention_days', valueType: 'integer', values: ['90', '180', '365'] },
  { cues: ['voice', 'audio', 'speech'], key: 'simulations.voice_enabled', valueType: 'boolean', values: ['true'] },
  { cues: ['language', 'locale'], key: 'locale.default', valueType: 'string', values: ['en-US', 'en-GB'] },
  { cues: ['budget', 'spend', 'cost'], key: 'models.monthly_budget_usd', valueType: 'number', values: ['250', '500', '1000'] },
  { cues: ['attempts', 'retries', 'retry'], key: 'simulations.max_attempts', valueType: 'integer', values: ['3', '5'] },
  { cues: ['transcript', 'share', 'visible'], key: 'attempts.learners_see_transcripts', valueType: 'boolean', values: ['true', 'false'] },
];

function normaliseSwitch(value: string): string {
  const lower = value.toLowerCase();
  if (lower === 'on' || lower === 'enabled') return 'true';
  if (lower === 'off' || lower === 'disabled') return 'false';
  return value;
}

function typeOfText(value: string): SettingPreset['valueType'] {
  if (/^(true|false)$/.test(value)) return 'boolean';
  if (/^-?\d+$/.test(value)) return 'integer';
  if (/^-?\d+\.\d+$/.test(value)) return 'number';
  return 'string';
}

export const settingFamily = defineFamily({
  type: 'setting',
  plural: 'settings',
  summary: 'An org, department or cohort setting: a key and its value, such as how long attempt transcripts are kept.',
  data: settingData,
  writeRole: 'admin',
  artifactRefs: { department_id: 'department', cohort_id: 'cohort' },
  rules: (data) => {
    const breaches: DataRuleBreach[] = [];
    const typeBreach = typedTextBreach(data.value_type ?? 'string', data.value, 'value_type');
    if (typeBreach) breaches.push({ path: ['value'], message: typeBreach });
    for (const [field, scope] of [['department_id', 'department'], ['cohort_id', 'cohort']] as const) {
      if (data.scope === scope && !data[field]) breaches.push({ path: [field], message: `is required when scope is ${scope}` });
      if (data.scope !== scope && data[field]) breaches.push({ path: [field], message: `is only for scope ${scope}; this setting's scope is ${data.scope}` });
    }
    return breaches;
  },
  example: {
    key: 'attempts.retention_days',
    value: '180',
    value_type: 'integer',
    scope: 'org',
    notes: 'Matches the university record-keeping policy for formative assessment.',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const lower = text.toLowerCase();
    const preset = PRESETS.find((candidate) => candidate.cues.some((cue) => lower.includes(cue)));
    const explicit = /\b(?:to|=|value(?: of)?)\s+(?:"([^"]{1,200})"|(\d+(?:\.\d+)?|true|false|on|off|enabled|disabled)\b)/i.exec(text);
    const explicitValue = explicit ? normaliseSwitch(explicit[1] ?? explicit[2]!) : undefined;
    const key = preset?.key ?? snakeIdentifier(text, pick(random, ['org.custom_setting', 'org.preference']), 90);
    // Only the org scope can be produced offline: department and cohort scopes need real ids.
    const scope = 'org' as const;
    const value = explicitValue ?? (preset ? pick(random, preset.values) : 'true');
    const valueType = explicitValue === undefined && preset ? preset.valueType : typeOfText(value);
    return {
      name: index === 0 ? key : `${key} (${index + 1})`,
      description: clip(text.length > 0 ? text : 'An org setting.', 500),
      data: {
        key: index === 0 ? key : `${key}_${index + 1}`.slice(0, 100),
        value,
        value_type: valueType,
        scope,
        notes: clip(text.length > 0 ? text : `${titleFrom(key.replace(/[._]/g, ' '), 'Setting')} chosen by default.`, 1000),
      },
    };
  },
});
