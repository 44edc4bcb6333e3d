import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clamp, clip, instructionText, matchByCues, numberAfter, numberBefore, pick, placeholderUuid, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const evalData = z.strictObject({
  rubric_id: uuid()
    .describe('Id of the rubric the attempts are graded against.'),
  grader_instructions: z.string().min(1).max(8000)
    .describe('How the grader (AI or human) should apply the rubric: what counts as evidence, how strict to be, what to say to the learner.'),
  pass_threshold: z.number().min(0).max(100)
    .describe('Minimum overall score, as a percentage, for an attempt to pass this evaluation.'),
  simulation_id: uuid().optional()
    .describe('Id of the simulation whose attempts this evaluation grades. Omit to grade the attempts listed in attempt_ids.'),
  attempt_ids: z.array(uuid()).max(500).optional()
    .describe('Ids of specific attempts to grade.'),
  agent_id: uuid().optional()
    .describe('Id of the grading agent. Omit to use the default grader.'),
  model_id: uuid().optional()
    .describe('Id of the model that grades, overriding the agent\'s model.'),
  feedback_style: z.enum(['concise', 'detailed', 'socratic']).optional()
    .describe('Tone of the feedback to learners: concise bullet points, detailed commentary, or socratic questions that prompt reflection.'),
  quote_evidence: z.boolean().optional()
    .describe('Whether each criterion judgement must quote the learner\'s words from the transcript.'),
  graders_per_attempt: z.number().int().min(1).max(5).optional()
    .describe('Independent grading passes per attempt; scores are averaged to reduce noise.'),
});

export const evalFamily = defineFamily({
  type: 'eval',
  plural: 'evals',
  summary: 'An evaluation that grades attempts against a rubric, with grader instructions and a pass threshold.',
  data: evalData,
  writeRole: 'member',
  artifactRefs: {
    rubric_id: 'rubric', simulation_id: 'simulation', attempt_ids: 'attempt', agent_id: 'agent', model_id: 'model',
  },
  example: {
    rubric_id: '0190b3a4-0000-7000-8000-000000000003',
    grader_instructions: 'Grade only what the learner said. Give credit for listening only when the learner paraphrases the student. Write feedback in the second person.',
    pass_threshold: 70,
    simulation_id: '0190b3a4-0000-7000-8000-000000000004',
    feedback_style: 'concise',
    quote_evidence: true,
    graders_per_attempt: 2,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const threshold = numberAfter(text, 'pass(?:ing)?(?: score| mark| threshold)?|threshold') ?? numberBefore(text, '%|percent');
    const feedbackStyle = matchByCues(text, {
      concise: ['concise', 'brief', 'short', 'bullet'],
      detailed: ['detailed', 'thorough', 'in-depth', 'comprehensive'],
      socratic: ['socratic', 'reflect', 'reflection', 'questions'],
    }) ?? pick(random, ['concise', 'detailed', 'socratic'] as const);
    return {
      name: withOrdinal(`${titleFrom(text, 'Conversation', 4)} evaluation`, index),
      description: clip(text.length > 0 ? text : 'An evaluation of practice attempts.', 500),
      data: {
        // Placeholder: the generation layer replaces the required rubric ref with a real id.
        rubric_id: placeholderUuid(random),
        grader_instructions: clip(`Apply each rubric criterion to the learner's turns only. ${sentenceOr(text, 'Be fair and specific', 7000)}`, 8000),
        pass_threshold: threshold !== undefined ? clamp(threshold, 0, 100) : pick(random, [60, 65, 70, 75, 80]),
        feedback_style: feedbackStyle,
        quote_evidence: true,
        graders_per_attempt: pick(random, [1, 2, 3]),
      },
    };
  },
});
