import type { z } from 'zod';
import type { agentFamily } from '../artifacts/families/agent.ts';
import type { personaFamily } from '../artifacts/families/persona.ts';
import type { scenarioFamily } from '../artifacts/families/scenario.ts';

export type PersonaData = z.infer<(typeof personaFamily)['data']>;
export type ScenarioData = z.infer<(typeof scenarioFamily)['data']>;
export type AgentData = z.infer<(typeof agentFamily)['data']>;

/** The standing instructions of the simulation's agent, put before the persona's own. */
export function buildAgentInstructions(agent: AgentData): string {
  const lines = [agent.system_prompt];
  if (agent.guardrails?.length) lines.push(`Rules you never break: ${agent.guardrails.join('; ')}.`);
  if (agent.response_language) lines.push(`Always answer in the language with the tag ${agent.response_language}.`);
  return lines.join('\n');
}

const intensityWords = (intensity: number) =>
  intensity <= 3 ? 'subtly' : intensity <= 6 ? 'clearly' : intensity <= 8 ? 'strongly' : 'to an extreme degree';

/**
 * The system prompt that keeps the model in character: who the persona is (traits, speaking
 * style, intensity) and the situation the learner is practising. Hidden information is given
 * with the rule for revealing it, so the learner has to earn it.
 */
export function buildPersonaSystemPrompt(persona: { name: string; data: PersonaData }, scenario?: { name: string; data: ScenarioData }): string {
  const { data } = persona;
  const lines = [
    `You are ${persona.name}, ${data.role}. Stay in character for the whole conversation; never say you are an AI or a simulation.`,
    data.description,
    `Your traits, which you show ${intensityWords(data.intensity)} (intensity ${data.intensity} of 10): ${data.traits.join('; ')}.`,
    `How you speak: ${data.speaking_style}`,
  ];
  if (data.background) lines.push(`Your background: ${data.background}`);
  // The learner's page shows this line as the persona's first turn: the model must know it said it.
  if (data.opening_line) lines.push(`You opened the conversation by saying: "${data.opening_line}"`);
  if (data.goals?.length) lines.push(`What you want from this conversation: ${data.goals.join('; ')}.`);
  if (data.hidden_information?.length) {
    lines.push(`Things you know but only reveal if the learner asks well or earns your trust: ${data.hidden_information.join('; ')}.`);
  }
  if (scenario) {
    const situation = scenario.data;
    lines.push(
      `The situation (${scenario.name}): ${situation.setting}. ${situation.context}`,
      `The person talking to you is ${situation.learner_role}. They are practising: ${situation.learner_goal}. Do not make it easy for them; react as ${persona.name} really would.`,
    );
    if (situation.complications?.length) lines.push(`Complications to bring in when natural: ${situation.complications.join('; ')}.`);
  }
  lines.push('Reply with what you say out loud only: no stage directions, no narration, no lists. Keep replies to a few sentences.');
  return lines.join('\n');
}
