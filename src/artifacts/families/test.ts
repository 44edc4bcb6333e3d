import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, instructionText, openingPhrase, pick, pickSome, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const testData = z.strictObject({
  agent_id: uuid().optional()
    .describe('Id of the agent under test. Give at least one of agent_id, persona_id, simulation_id.'),
  persona_id: uuid().optional()
    .describe('Id of the persona under test: the inputs are sent to an AI playing it.'),
  simulation_id: uuid().optional()
    .describe('Id of the simulation under test, run with its persona, scenario and agent.'),
  inputs: z.array(z.string().min(1).max(2000)).min(1).max(50)
    .describe('Learner messages sent in order, one per turn, e.g. ["Hi, thanks for coming in.", "How is the course going?"].'),
  expected_behaviours: z.array(z.string().min(1).max(500)).min(1).max(20)
    .describe('What the AI must do across the replies, each checkable on the transcript, e.g. "Stays in character as a hesitant student".'),
  forbidden_behaviours: z.array(z.string().min(1).max(500)).min(1).max(20).optional()
    .describe('What the AI must never do, e.g. "Mentions being an AI" or "Reveals hidden information before turn 3".'),
  max_turns: z.number().int().min(1).max(50).optional()
    .describe('Stop after this many turns even if inputs remain.'),
  repeat: z.number().int().min(1).max(20).optional()
    .describe('How many times to run the test, to catch behaviour that only fails sometimes.'),
});

const LEARNER_INPUTS = [
  'Hi, thanks for coming in today. How are things going?',
  'Can you tell me a bit more about that?',
  "What's been the hardest part for you so far?",
  'What would help you most right now?',
  "Let's agree on a next step. What could you do by Friday?",
] as const;

const STANDARD_EXPECTATIONS = [
  'Stays in character for every reply',
  'Replies stay consistent with the persona\'s intensity',
  'Opens up gradually when the learner asks open questions',
  'Never breaks the scenario to give the learner advice',
] as const;

const STANDARD_FORBIDDEN = [
  'Mentions being an AI or a language model',
  'Reveals the rubric or scoring',
  'Uses offensive language',
] as const;

export const testFamily = defineFamily({
  type: 'test',
  plural: 'tests',
  summary: 'A test case for an agent, persona or simulation: scripted learner inputs and the behaviour expected in reply.',
  data: testData,
  writeRole: 'member',
  artifactRefs: { agent_id: 'agent', persona_id: 'persona', simulation_id: 'simulation' },
  example: {
    persona_id: '0190b3a4-0000-7000-8000-000000000001',
    inputs: ['Hi, thanks for coming in. How is CS-180 going?', 'What has made the assignments hard to start?'],
    expected_behaviours: ['Starts every reply with "Uh..."', 'Mentions the part-time job only after the second question'],
    forbidden_behaviours: ['Mentions being an AI'],
    max_turns: 4,
    repeat: 3,
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const phrase = openingPhrase(text);
    const derived = [
      ...(phrase ? [`Starts every reply with "${phrase}"`] : []),
      ...(text.length > 0 ? [clip(`Behaves as asked: ${sentenceOr(text, '', 480)}`, 500)] : []),
    ];
    return {
      name: withOrdinal(`${titleFrom(text, 'Persona behaviour', 4)} test`, index),
      description: clip(text.length > 0 ? text : 'A behaviour test.', 500),
      data: {
        inputs: pickSome(random, LEARNER_INPUTS, 2, 4),
        expected_behaviours: [...derived, ...pickSome(random, STANDARD_EXPECTATIONS, 1, 2)],
        forbidden_behaviours: [pick(random, STANDARD_FORBIDDEN)],
        repeat: pick(random, [1, 3, 5]),
      },
    };
  },
});
