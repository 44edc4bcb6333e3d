import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, instructionText, intBetween, matchByCues, placeholderUuid, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';
import type { SimulationData } from './simulation.ts';

const ATTEMPT_STATES = ['in_progress', 'completed', 'abandoned'] as const;
const ISO_INSTANT = z.iso.datetime({ offset: true });

const criterionScore = z.strictObject({
  criterion: z.string().min(1).max(100)
    .describe('Name of the rubric criterion, exactly as in the rubric.'),
  points: z.number().int().min(0).max(1000)
    .describe('Points awarded for this criterion.'),
  comment: z.string().min(1).max(1000).optional()
    .describe('Why these points: evidence from the transcript.'),
});

const attemptData = z.strictObject({
  simulation_id: uuid()
    .describe('Id of the simulation being practised.'),
  learner_profile_id: uuid().optional()
    .describe('Id of the learner\'s profile; set by the server from the caller when the attempt starts.'),
  state: z.enum(ATTEMPT_STATES)
    .describe('Lifecycle: in_progress while the conversation runs, completed when it ended normally, abandoned when the learner left.'),
  group_id: uuid().optional()
    .describe('Id of the group holding every turn of the attempt (the chat transcript).'),
  persona_id: uuid().optional()
    .describe('Id of the persona, copied from the simulation when the attempt starts.'),
  scenario_id: uuid().optional()
    .describe('Id of the scenario, copied from the simulation when the attempt starts.'),
  rubric_id: uuid().optional()
    .describe('Id of the rubric, copied from the simulation when the attempt starts.'),
  turn_count: z.number().int().min(0).max(1000).optional()
    .describe('Learner turns taken so far.'),
  score: z.number().min(0).max(100).optional()
    .describe('Overall score as a percentage of the rubric maximum, once graded.'),
  passed: z.boolean().optional()
    .describe('Whether the score reached the rubric\'s passing score.'),
  criterion_scores: z.array(criterionScore).max(20).optional()
    .describe('Points per rubric criterion, once graded.'),
  feedback: z.string().min(1).max(4000).optional()
    .describe('Summary feedback to the learner: what went well and what to try next time.'),
  started_at: z.string().max(40).optional()
    .describe('When the attempt started, ISO 8601 (e.g. 2025-03-14T09:30:00Z).'),
  ended_at: z.string().max(40).optional()
    .describe('When the attempt ended, ISO 8601.'),
});

export const attemptFamily = defineFamily({
  type: 'attempt',
  plural: 'attempts',
  summary: 'One learner\'s run through a simulation: its state, transcript group and, once graded, its score and feedback.',
  data: attemptData,
  // Learners start attempts (attempt/start) and advance them (attempt/chat_message), which keep
  // state, turn count and transcript group right; writing a record directly (grading) is an admin's.
  writeRole: 'admin',
  // A time limit is reckoned from started_at. A rule, not the field's schema: records stored
  // before it was checked can still be renamed (rules hold for data sent).
  rules: (data) => (['started_at', 'ended_at'] as const).flatMap((field) => {
    const value = data[field];
    return value === undefined || ISO_INSTANT.safeParse(value).success ? [] : [{ path: [field], message: 'must be an ISO 8601 instant with Z or an offset, e.g. 2025-03-14T09:30:00Z' }];
  }),
  artifactRefs: {
    simulation_id: 'simulation', learner_profile_id: 'profile', persona_id: 'persona', scenario_id: 'scenario', rubric_id: 'rubric',
  },
  example: {
    simulation_id: '0190b3a4-0000-7000-8000-000000000004',
    learner_profile_id: '0190b3a4-0000-7000-8000-000000000005',
    state: 'completed',
    group_id: '0190b3a4-0000-7000-8000-000000000006',
    persona_id: '0190b3a4-0000-7000-8000-000000000001',
    scenario_id: '0190b3a4-0000-7000-8000-000000000002',
    rubric_id: '0190b3a4-0000-7000-8000-000000000003',
    turn_count: 14,
    score: 78,
    passed: true,
    criterion_scores: [
      { criterion: 'Active listening', points: 2, comment: 'Paraphrased the student\'s concern about work hours once.' },
      { criterion: 'Next steps', points: 3, comment: 'Agreed three dated tasks and a check-in.' },
    ],
    feedback: 'Good plan at the end. Next time, ask about workload before proposing solutions.',
    started_at: '2025-03-14T09:30:00Z',
    ended_at: '2025-03-14T09:44:10Z',
  },
  // A generated attempt plays its simulation as a started one would: the same persona, scenario
  // and rubric, and no more turns than the simulation allows. It is a record, not a conversation:
  // a group id the model made up would name nobody's transcript.
  settleGenerated: (data, { simulation_id: simulation }) => {
    const { group_id: _group, ...recorded } = data;
    if (!simulation) return recorded;
    const rules = simulation as SimulationData;
    const { persona_id: _persona, scenario_id: _scenario, rubric_id: _rubric, ...rest } = recorded;
    return {
      ...rest,
      persona_id: rules.persona_id,
      scenario_id: rules.scenario_id,
      ...(rules.rubric_id ? { rubric_id: rules.rubric_id } : {}),
      ...(data.turn_count !== undefined ? { turn_count: Math.min(data.turn_count, rules.max_turns) } : {}),
    };
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const state = matchByCues(text, {
      completed: ['completed', 'complete', 'finished', 'graded', 'scored'],
      abandoned: ['abandoned', 'left', 'quit', 'gave up'],
      in_progress: ['in progress', 'ongoing', 'started'],
    }) ?? 'in_progress';
    const turnCount = intBetween(random, state === 'in_progress' ? 1 : 6, 20);
    const score = intBetween(random, 40, 95);
    return {
      name: withOrdinal(`${titleFrom(text, 'Practice', 4)} attempt`, index),
      description: clip(text.length > 0 ? text : 'A practice attempt.', 500),
      data: {
        // Placeholder: the generation layer replaces the required simulation ref with a real id.
        simulation_id: placeholderUuid(random),
        state,
        turn_count: turnCount,
        ...(state === 'completed'
          ? { score, passed: score >= 70, feedback: sentenceOr(text, 'Clear opening; spend more time listening before proposing a plan', 4000) }
          : {}),
      },
    };
  },
});
