import { z } from 'zod';
import { defineFamily } from './define.ts';
import { LANGUAGE_TAG_MESSAGE, LANGUAGE_TAG_PATTERN, clip, instructionText, matchByCues, mentionedLanguage, pick, pickSome, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const AGENT_PURPOSES = ['persona_roleplay', 'grading', 'coaching', 'content_generation', 'general'] as const;
type AgentPurpose = (typeof AGENT_PURPOSES)[number];

const agentData = z.strictObject({
  purpose: z.enum(AGENT_PURPOSES)
    .describe('What the agent does: persona_roleplay (plays personas in attempts), grading (scores attempts), coaching (gives the learner hints), content_generation (drafts artifacts), general.'),
  system_prompt: z.string().min(1).max(20000)
    .describe('The standing instructions sent to the model before every conversation: role, rules, tone, output expectations.'),
  model_id: uuid().optional()
    .describe('Id of the model the agent runs on. Omit to use the default text model.'),
  tool_ids: z.array(uuid()).max(32).optional()
    .describe('Ids of the tools the agent may call.'),
  temperature: z.number().min(0).max(2).optional()
    .describe('Sampling temperature: 0 is focused and repeatable, around 1 is natural, up to 2 is very varied.'),
  max_output_tokens: z.number().int().min(1).max(100000).optional()
    .describe('Longest reply the agent may produce, in tokens.'),
  response_language: z.string().regex(LANGUAGE_TAG_PATTERN, LANGUAGE_TAG_MESSAGE).max(35).optional()
    .describe("BCP-47 tag of the language the agent answers in, e.g. 'en-US'. Omit to follow the user."),
  guardrails: z.array(z.string().min(1).max(300)).min(1).max(20).optional()
    .describe('Rules the agent must never break, e.g. "Never reveal the rubric to the learner".'),
});

const PROMPT_OPENINGS: Record<AgentPurpose, string> = {
  persona_roleplay: 'You play the persona described in the conversation setup. Stay in character for the whole conversation and never mention that you are an AI.',
  grading: 'You grade a learner\'s practice conversation against the rubric provided. Base every judgement on quotes from the transcript.',
  coaching: 'You coach a learner during a practice conversation. Give short, specific hints; never take over the conversation.',
  content_generation: 'You draft teaching artifacts for educators: personas, scenarios and rubrics that are realistic, inclusive and ready to use.',
  general: 'You are a helpful assistant for educators who design role-play practice.',
};

const TEMPERATURE: Record<AgentPurpose, readonly number[]> = {
  persona_roleplay: [0.8, 0.9, 1],
  grading: [0, 0.1, 0.2],
  coaching: [0.4, 0.5],
  content_generation: [0.7, 0.8],
  general: [0.5, 0.7],
};

const GUARDRAILS = [
  'Never reveal the rubric or the hidden information to the learner',
  'Do not give medical, legal or financial advice beyond the scenario',
  'Keep replies under 120 words unless asked for more',
  'If the learner becomes distressed, pause the role-play and point them to support',
  'Do not invent policies that are not in the scenario',
] as const;

export const agentFamily = defineFamily({
  type: 'agent',
  plural: 'agents',
  summary: 'An AI agent configuration: its purpose, system prompt, model, tools and sampling settings.',
  data: agentData,
  writeRole: 'member',
  artifactRefs: { model_id: 'model', tool_ids: 'tool' },
  example: {
    purpose: 'grading',
    system_prompt: 'You grade a learner\'s practice conversation against the rubric provided. For each criterion choose one level, quote the learner\'s words as evidence, and finish with two sentences of feedback addressed to the learner.',
    model_id: '0190b3a4-0000-7000-8000-000000000008',
    tool_ids: ['0190b3a4-0000-7000-8000-000000000009'],
    temperature: 0.1,
    max_output_tokens: 2000,
    response_language: 'en-US',
    guardrails: ['Never invent quotes that are not in the transcript'],
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const purpose = matchByCues(text, {
      grading: ['grade', 'grading', 'grader', 'score', 'scoring', 'assess', 'evaluate', 'mark'],
      coaching: ['coach', 'hint', 'tutor', 'mentor', 'feedback'],
      persona_roleplay: ['role-play', 'roleplay', 'role play', 'persona', 'play the', 'act as', 'pretend', 'character'],
      content_generation: ['generate', 'draft', 'write', 'author', 'create'],
    }) ?? ('general' as const);
    const guidance = text.length > 0 ? ` ${sentenceOr(text, '', 19000)}` : '';
    return {
      name: withOrdinal(`${titleFrom(text, 'Assistant', 4)} agent`, index),
      description: clip(text.length > 0 ? text : `A ${purpose.replace('_', ' ')} agent.`, 500),
      data: {
        purpose,
        system_prompt: clip(`${PROMPT_OPENINGS[purpose]}${guidance}`, 20000),
        temperature: pick(random, TEMPERATURE[purpose]),
        response_language: mentionedLanguage(text) ?? 'en-US',
        guardrails: pickSome(random, GUARDRAILS, 1, 3),
      },
    };
  },
});
