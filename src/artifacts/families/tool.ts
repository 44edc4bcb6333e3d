import { z } from 'zod';
import { defineFamily } from './define.ts';
import type { DataRuleBreach } from '../types.ts';
import { repeats } from './rule-checks.ts';
import { HTTP_URL_MESSAGE, HTTP_URL_PATTERN, allMentioned, clip, instructionText, pick, sentenceOr, snakeIdentifier } from './offline-text.ts';

const PARAMETER_TYPES = ['string', 'number', 'integer', 'boolean', 'string_array', 'number_array'] as const;

const toolParameter = z.strictObject({
  name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/, 'must be 1 to 64 letters, digits or _, not starting with a digit')
    .describe("Argument name in snake_case, e.g. 'student_id'."),
  type: z.enum(PARAMETER_TYPES)
    .describe('JSON type of the argument; string_array and number_array are lists of that type.'),
  description: z.string().min(1).max(500)
    .describe('What the argument means and its format, written for the model that fills it in.'),
  required: z.boolean()
    .describe('Whether the model must always supply this argument.'),
  allowed_values: z.array(z.string().min(1).max(100)).min(1).max(50).optional()
    .describe('For string arguments only: the only values accepted.'),
});

const toolData = z.strictObject({
  tool_name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -')
    .describe("Function name the model calls, 1-64 letters, digits, '_' or '-', e.g. 'look_up_course_deadline'."),
  description: z.string().min(1).max(1024)
    .describe('When and why the model should call the tool and what it returns. The model reads this to decide.'),
  parameters: z.array(toolParameter).max(32)
    .describe('Arguments of the function, each name once; empty when it takes none.'),
  implementation: z.enum(['builtin', 'webhook'])
    .describe('builtin: handled inside Glow; webhook: Glow POSTs the arguments as JSON to webhook_url and returns the response to the model.'),
  webhook_url: z.string().regex(HTTP_URL_PATTERN, HTTP_URL_MESSAGE).max(2000).optional()
    .describe('Endpoint called: required for webhook tools, and only for them.'),
  timeout_ms: z.number().int().min(100).max(120000).optional()
    .describe('How long to wait for the tool before telling the model it failed.'),
});

interface ParameterSeed {
  cue: string;
  name: string;
  type: (typeof PARAMETER_TYPES)[number];
  description: string;
}

const PARAMETER_SEEDS: readonly ParameterSeed[] = [
  { cue: 'student', name: 'student_id', type: 'string', description: 'Institutional id of the student.' },
  { cue: 'course', name: 'course_code', type: 'string', description: "Course code such as 'CS-180'." },
  { cue: 'date', name: 'date', type: 'string', description: 'Calendar date, YYYY-MM-DD.' },
  { cue: 'deadline', name: 'assignment_name', type: 'string', description: 'Name of the assignment.' },
  { cue: 'grade', name: 'term', type: 'string', description: "Academic term, e.g. 'Fall 2025'." },
  { cue: 'appointment', name: 'preferred_time', type: 'string', description: 'Preferred time, ISO 8601.' },
  { cue: 'patient', name: 'patient_id', type: 'string', description: 'Record number of the patient.' },
  { cue: 'policy', name: 'topic', type: 'string', description: 'Policy topic to look up.' },
  { cue: 'limit', name: 'limit', type: 'integer', description: 'Maximum number of results to return.' },
];

export const toolFamily = defineFamily({
  type: 'tool',
  plural: 'tools',
  summary: 'A function an agent may call during a conversation, such as looking up a deadline or a policy.',
  data: toolData,
  rules: (data) => {
    const breaches: DataRuleBreach[] = [];
    const nameRepeats = new Map(repeats(data.parameters, (parameter) => parameter.name).map(({ at, first }) => [at, first]));
    data.parameters.forEach((parameter, position) => {
      const first = nameRepeats.get(position);
      if (first !== undefined) breaches.push({ path: ['parameters', position, 'name'], message: `repeats the name of parameters[${first}] ("${parameter.name}"); each argument needs its own` });
      if (parameter.allowed_values && parameter.type !== 'string') breaches.push({ path: ['parameters', position, 'allowed_values'], message: `is only for string arguments; this one is ${parameter.type}` });
    });
    if (data.implementation === 'webhook' && !data.webhook_url) breaches.push({ path: ['webhook_url'], message: 'is required when implementation is webhook' });
    if (data.implementation !== 'webhook' && data.webhook_url) breaches.push({ path: ['webhook_url'], message: `is only for webhook tools; this tool's implementation is ${data.implementation}` });
    return breaches;
  },
  writeRole: 'member',
  example: {
    tool_name: 'look_up_course_deadline',
    description: 'Returns the due date and late policy of an assignment in a course. Call it when the learner or persona asks about a deadline.',
    parameters: [
      { name: 'course_code', type: 'string', description: "Course code such as 'CS-180'.", required: true },
      { name: 'assignment_name', type: 'string', description: "Assignment name, e.g. 'Assignment 3'.", required: true },
      { name: 'include_late_policy', type: 'boolean', description: 'Also return the late-submission policy.', required: false },
    ],
    implementation: 'webhook',
    webhook_url: 'https://lms.example.edu/glow/deadline',
    timeout_ms: 5000,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const baseName = snakeIdentifier(text, pick(random, ['look_up_information', 'fetch_record', 'search_catalogue']), 60);
    const suffix = index === 0 ? '' : `_${index + 1}`;
    const toolName = `${baseName.slice(0, 64 - suffix.length)}${suffix}`;
    const cues = allMentioned(text, PARAMETER_SEEDS.map((seed) => seed.cue));
    const seeds = PARAMETER_SEEDS.filter((seed) => cues.includes(seed.cue));
    const url = /https?:\/\/[^\s"'<>]+/.exec(text)?.[0]?.replace(/[.,;)]+$/, '');
    const parameters = seeds.length > 0
      ? seeds.map((seed, position) => ({ name: seed.name, type: seed.type, description: seed.description, required: position === 0 }))
      : [{ name: 'query', type: 'string' as const, description: 'What to look up, in plain words.', required: true }];
    return {
      name: toolName,
      description: clip(text.length > 0 ? text : 'A function tool.', 500),
      data: {
        tool_name: toolName,
        description: sentenceOr(text, 'Looks up information the agent needs during the conversation', 1024),
        parameters,
        implementation: url ? 'webhook' as const : 'builtin' as const,
        ...(url ? { webhook_url: url.slice(0, 2000) } : {}),
        timeout_ms: pick(random, [3000, 5000, 10000]),
      },
    };
  },
});
