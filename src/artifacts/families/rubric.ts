import { z } from 'zod';
import { defineFamily } from './define.ts';
import type { DataRuleBreach } from '../types.ts';
import { repeats } from './rule-checks.ts';
import { clamp, clip, instructionText, matchByCues, numberAfter, pick, pickSome, titleFrom, withOrdinal } from './offline-text.ts';

const rubricLevel = z.strictObject({
  label: z.string().min(1).max(60)
    .describe("Name of the performance level, e.g. 'Excellent', 'Developing', 'Not shown'."),
  description: z.string().min(1).max(500)
    .describe('What the learner visibly does at this level, concrete enough for a grader to decide.'),
  points: z.number().int().min(0).max(1000)
    .describe('Points awarded at this level; the highest level of a criterion gives its maximum.'),
});

const rubricCriterion = z.strictObject({
  name: z.string().min(1).max(100)
    .describe("Short name of the skill assessed, e.g. 'Active listening'."),
  description: z.string().min(1).max(1000)
    .describe('What this criterion looks for in the conversation.'),
  weight: z.number().min(0).max(100)
    .describe('Relative importance, 0-100. Weights are normalised, so they need not add up to 100, but at least one criterion must weigh more than 0.'),
  levels: z.array(rubricLevel).min(2).max(6)
    .describe('Performance levels from best to worst, each with its points and its own label; at least one level gives more than 0 points.'),
});

const rubricData = z.strictObject({
  criteria: z.array(rubricCriterion).min(1).max(20)
    .describe('The skills the attempt is scored on, each named once.'),
  passing_score: z.number().min(0).max(100).optional()
    .describe('Minimum overall score, as a percentage of the maximum weighted points, to pass.'),
  grading_guidance: z.string().min(1).max(2000).optional()
    .describe('Advice for the grader (human or AI): what evidence to quote, how to treat partial performance.'),
});

interface CriterionSeed {
  name: string;
  cues: readonly string[];
  focus: string;
}

const CRITERIA_LIBRARY: readonly CriterionSeed[] = [
  { name: 'Active listening', cues: ['listen', 'listening', 'reflect', 'paraphrase'], focus: 'reflects and paraphrases what the other person says before responding' },
  { name: 'Empathy', cues: ['empathy', 'empathetic', 'emotion', 'feelings', 'compassion', 'rapport'], focus: 'acknowledges the other person\'s feelings and perspective' },
  { name: 'Questioning', cues: ['question', 'questioning', 'probe', 'explore', 'uncover'], focus: 'uses open questions to uncover the real issue' },
  { name: 'Clarity', cues: ['clear', 'clarity', 'explain', 'explanation', 'jargon'], focus: 'explains information plainly and checks understanding' },
  { name: 'De-escalation', cues: ['de-escalat', 'calm', 'angry', 'aggressive', 'conflict', 'hostile'], focus: 'keeps the conversation calm and respectful under pressure' },
  { name: 'Accuracy', cues: ['accurate', 'accuracy', 'correct', 'policy', 'facts'], focus: 'gives correct information consistent with policy' },
  { name: 'Structure', cues: ['structure', 'agenda', 'organis', 'organiz', 'flow'], focus: 'sets a purpose, follows a logical flow and closes the conversation' },
  { name: 'Next steps', cues: ['plan', 'next step', 'action', 'follow-up', 'follow up', 'agree'], focus: 'agrees concrete next steps with owners and dates' },
  { name: 'Feedback delivery', cues: ['feedback', 'critique'], focus: 'gives specific, balanced feedback tied to observed behaviour' },
];

const LEVEL_TEMPLATES = [
  { label: 'Excellent', prefix: 'Consistently', points: 3 },
  { label: 'Proficient', prefix: 'Usually', points: 2 },
  { label: 'Developing', prefix: 'Occasionally', points: 1 },
  { label: 'Not shown', prefix: 'Rarely or never', points: 0 },
] as const;

function levelsFor(focus: string, levelCount: number) {
  const templates = levelCount === 3 ? [LEVEL_TEMPLATES[0], LEVEL_TEMPLATES[2], LEVEL_TEMPLATES[3]] : LEVEL_TEMPLATES;
  return templates.map((template, position) => ({
    label: template.label,
    description: `${template.prefix} ${focus}.`,
    points: templates.length - 1 - position,
  }));
}

export const rubricFamily = defineFamily({
  type: 'rubric',
  plural: 'rubrics',
  summary: 'How a practice attempt is scored: weighted criteria, each with performance levels and points.',
  data: rubricData,
  rules: (data) => {
    const breaches: DataRuleBreach[] = [];
    if (data.criteria.every((criterion) => criterion.weight === 0)) breaches.push({ path: ['criteria'], message: 'must give at least one criterion a weight above 0: weights are normalised, and all 0 scores nothing' });
    const caseAside = (text: string) => text.trim().toLowerCase();
    const nameRepeats = new Map(repeats(data.criteria, (criterion) => caseAside(criterion.name)).map(({ at, first }) => [at, first]));
    data.criteria.forEach((criterion, position) => {
      const first = nameRepeats.get(position);
      if (first !== undefined) breaches.push({ path: ['criteria', position, 'name'], message: `repeats the name of criteria[${first}] ("${data.criteria[first]!.name}", case aside); each criterion needs its own` });
      const [label] = repeats(criterion.levels, (level) => caseAside(level.label));
      if (label) breaches.push({ path: ['criteria', position, 'levels', label.at, 'label'], message: `repeats the label of levels[${label.first}] ("${criterion.levels[label.first]!.label}", case aside); each level needs its own` });
      if (criterion.levels.every((level) => level.points === 0)) breaches.push({ path: ['criteria', position, 'levels'], message: 'must give at least one level more than 0 points' });
    });
    return breaches;
  },
  writeRole: 'member',
  example: {
    criteria: [
      {
        name: 'Active listening',
        description: 'Reflects and paraphrases what the student says before offering advice.',
        weight: 40,
        levels: [
          { label: 'Excellent', description: 'Paraphrases the student\'s concerns accurately at least twice and builds on them.', points: 3 },
          { label: 'Proficient', description: 'Paraphrases once; mostly responds to what was said.', points: 2 },
          { label: 'Developing', description: 'Responds to parts of what was said; sometimes talks over the student.', points: 1 },
          { label: 'Not shown', description: 'Ignores the student\'s input and follows a script.', points: 0 },
        ],
      },
      {
        name: 'Next steps',
        description: 'Agrees a concrete catch-up plan with dates.',
        weight: 60,
        levels: [
          { label: 'Excellent', description: 'Plan has specific tasks, dates and a check-in, agreed by the student.', points: 3 },
          { label: 'Developing', description: 'Plan is vague or imposed without the student\'s agreement.', points: 1 },
          { label: 'Not shown', description: 'No plan is discussed.', points: 0 },
        ],
      },
    ],
    passing_score: 70,
    grading_guidance: 'Quote the learner\'s own words as evidence for each level chosen.',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const lower = text.toLowerCase();
    const mentioned = CRITERIA_LIBRARY.filter((seed) => seed.cues.some((cue) => lower.includes(cue)));
    const others = CRITERIA_LIBRARY.filter((seed) => !mentioned.includes(seed));
    const chosen = [...mentioned, ...pickSome(random, others, Math.max(0, 3 - mentioned.length), Math.max(0, 4 - mentioned.length))].slice(0, 8);
    const levelCount = matchByCues(text, { three: ['three level', '3 level', '3-level', 'three-level'] }) ? 3 : 4;
    const askedPass = numberAfter(text, 'pass(?:ing)?(?: score| mark| threshold)?');
    const weightEach = Math.round(100 / chosen.length);

    return {
      name: withOrdinal(`${titleFrom(text, 'Conversation skills', 4)} rubric`, index),
      description: clip(text.length > 0 ? `Rubric for: ${text}` : 'Rubric for a practice conversation.', 500),
      data: {
        criteria: chosen.map((seed) => ({
          name: seed.name,
          description: `The learner ${seed.focus}.`,
          weight: Math.min(100, mentioned.includes(seed) ? weightEach + pick(random, [0, 5, 10]) : weightEach),
          levels: levelsFor(seed.focus, levelCount),
        })),
        passing_score: askedPass !== undefined ? clamp(askedPass, 0, 100) : pick(random, [60, 65, 70, 75]),
        grading_guidance: clip(`Score each criterion from the transcript and quote the learner's words as evidence.${text.length > 0 ? ` Focus: ${text}` : ''}`, 2000),
      },
    };
  },
});
