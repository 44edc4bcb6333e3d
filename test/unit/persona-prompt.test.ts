import assert from 'node:assert/strict';
import { test } from 'node:test';
import { personaFamily } from '../../src/artifacts/families/persona.ts';
import { scenarioFamily } from '../../src/artifacts/families/scenario.ts';
import { buildPersonaSystemPrompt } from '../../src/chat/persona-prompt.ts';

test('the persona system prompt carries traits, speaking style, intensity and the scenario', () => {
  const persona = { name: 'Sam', data: { ...personaFamily.example, intensity: 9, traits: ['passive', 'evasive'], speaking_style: 'Starts every reply with "Uh..."' } };
  const scenario = { name: 'Office hours', data: scenarioFamily.example };
  const prompt = buildPersonaSystemPrompt(persona, scenario);
  assert.match(prompt, /^You are Sam, /);
  assert.match(prompt, /passive; evasive/);
  assert.match(prompt, /intensity 9 of 10/);
  assert.match(prompt, /extreme degree/);
  assert.match(prompt, /Starts every reply with "Uh\.\.\."/);
  assert.ok(prompt.includes(scenarioFamily.example.learner_goal));
  assert.ok(prompt.includes(scenarioFamily.example.setting));
  // The console shows the opening line as the persona's first turn: the model is told it said it.
  assert.ok(prompt.includes(`You opened the conversation by saying: "${personaFamily.example.opening_line}"`));
  const { opening_line: _none, ...silent } = persona.data;
  assert.ok(!buildPersonaSystemPrompt({ name: 'Sam', data: silent }).includes('You opened the conversation'));

  const mild = buildPersonaSystemPrompt({ name: 'Sam', data: { ...persona.data, intensity: 2 } });
  assert.match(mild, /subtly/);
  assert.ok(!mild.includes(scenarioFamily.example.setting), 'no scenario, no situation');
});
