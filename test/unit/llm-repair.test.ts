import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { extractJson, normalizeToSchema } from '../../src/llm/output-repair.ts';
import { strictJsonSchema } from '../../src/llm/output-schema.ts';

describe('extractJson', () => {
  it('keeps braces inside strings and ignores text after the object', async () => {
    const result = await extractJson('Sure! {"a": "x } y", "b": [1, {"c": "{"}]} Hope this helps {not json}');
    assert.deepEqual(result, { ok: true, value: { a: 'x } y', b: [1, { c: '{' }] }, repairs: ['removed text before the JSON', 'removed text after the JSON'] });
  });

  it('closes a tail cut inside an array of strings, and inside an unclosed fence', async () => {
    const result = await extractJson('```json\n{"name": "Maya", "traits": ["shy", "quie');
    assert.ok(result.ok);
    assert.deepEqual(result.value, { name: 'Maya', traits: ['shy', 'quie'] });
  });

  it('refuses text with no JSON in it', async () => {
    assert.deepEqual(await extractJson('I cannot help with that.'), { ok: false, error: 'The reply contains no JSON object.' });
    assert.equal((await extractJson('   ')).ok, false);
  });
});

describe('normalizeToSchema', () => {
  const schema = z.strictObject({
    name: z.string(),
    note: z.string().optional(),
    maybe: z.string().nullable(),
    items: z.array(z.strictObject({ label: z.string(), weight: z.number().optional() })),
  });

  it('drops unknown keys at every level and nulls of optional fields, but keeps nulls the schema allows', () => {
    const repairs: string[] = [];
    const value = normalizeToSchema({ name: 'a', note: null, maybe: null, extra: 1, items: [{ label: 'x', weight: null, colour: 'red' }] }, schema, repairs);
    assert.deepEqual(value, { name: 'a', maybe: null, items: [{ label: 'x' }] });
    assert.ok(schema.safeParse(value).success);
    assert.deepEqual(repairs.sort(), ['dropped null items[0].weight', 'dropped null note', 'dropped unknown key extra', 'dropped unknown key items[0].colour']);
  });
});

describe('strictJsonSchema', () => {
  it('requires every property, makes optional ones nullable and moves constraints to the description', () => {
    const json = z.toJSONSchema(z.strictObject({ title: z.string().max(10).describe('A title'), level: z.enum(['a', 'b']).optional() }), { io: 'input' });
    const strict = strictJsonSchema(json as Record<string, unknown>);
    assert.deepEqual(strict.required, ['title', 'level']);
    assert.equal(strict.additionalProperties, false);
    assert.equal(strict.properties.title.description, 'A title (at most 10 characters)');
    assert.equal(strict.properties.title.maxLength, undefined);
    assert.deepEqual(strict.properties.level, { anyOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'null' }] });
  });
});
