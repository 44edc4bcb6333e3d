import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clamp, clip, instructionText, matchByCues, numberBefore, pick, placeholderUuid, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const simulationData = z.strictObject({
  persona_id: uuid()
    .describe('Id of the persona the AI plays.'),
  scenario_id: uuid()
    .describe('Id of the scenario that sets the situation and the learner\'s goal.'),
  rubric_id: uuid().optional()
    .describe('Id of the rubric attempts are scored with. Omit for unscored practice.'),
  agent_id: uuid().optional()
    .describe('Id of the agent configuration that drives the persona (model, temperature, tools). Omit to use the instance default.'),
  modality: z.enum(['text', 'voice'])
    .describe('How the learner talks to the persona: typed text, or spoken voice with speech replies.'),
  max_turns: z.number().int().min(1).max(200)
    .describe('Maximum learner turns before the attempt ends automatically.'),
  time_limit_minutes: z.number().int().min(1).max(180).optional()
    .describe('Wall-clock limit of an attempt in minutes.'),
  learner_instructions: z.string().min(1).max(2000).optional()
    .describe('Briefing shown to the learner before they start: what to do and how they will be assessed.'),
  feedback_mode: z.enum(['none', 'end_of_attempt', 'after_each_turn']).optional()
    .describe('When the learner sees feedback: never, once the attempt ends, or after each of their turns.'),
  max_attempts: z.number().int().min(1).max(100).optional()
    .describe('How many attempts each learner may make. Omit for unlimited.'),
});

export const simulationFamily = defineFamily({
  type: 'simulation',
  plural: 'simulations',
  summary: 'A ready-to-run practice activity: a persona in a scenario, scored by a rubric, in text or voice.',
  data: simulationData,
  writeRole: 'member',
  artifactRefs: { persona_id: 'persona', scenario_id: 'scenario', rubric_id: 'rubric', agent_id: 'agent' },
  example: {
    persona_id: '0190b3a4-0000-7000-8000-000000000001',
    scenario_id: '0190b3a4-0000-7000-8000-000000000002',
    rubric_id: '0190b3a4-0000-7000-8000-000000000003',
    modality: 'voice',
    max_turns: 20,
    time_limit_minutes: 15,
    learner_instructions: 'You are the CS-180 instructor. Find out why the student is behind and agree a catch-up plan. You are scored on listening and next steps.',
    feedback_mode: 'end_of_attempt',
    max_attempts: 3,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const modality = matchByCues(text, { voice: ['voice', 'spoken', 'speak', 'audio', 'phone', 'call'] }) ?? ('text' as const);
    const turns = numberBefore(text, 'turns?|exchanges?');
    const minutes = numberBefore(text, 'minutes?|mins?');
    return {
      name: withOrdinal(`${titleFrom(text, 'Practice', 4)} simulation`, index),
      description: clip(text.length > 0 ? text : 'A practice simulation.', 500),
      data: {
        // Placeholders: the generation layer replaces required refs with real ids of the org.
        persona_id: placeholderUuid(random),
        scenario_id: placeholderUuid(random),
        modality,
        max_turns: turns !== undefined ? clamp(Math.round(turns), 1, 200) : pick(random, [10, 12, 15, 20]),
        ...(minutes !== undefined ? { time_limit_minutes: clamp(Math.round(minutes), 1, 180) } : {}),
        learner_instructions: sentenceOr(text, 'Hold the conversation as you would in real life and reach the scenario goal', 2000),
        feedback_mode: pick(random, ['end_of_attempt', 'after_each_turn'] as const),
      },
    };
  },
});

export type SimulationData = z.infer<typeof simulationData>;
