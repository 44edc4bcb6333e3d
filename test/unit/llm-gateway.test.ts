import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { completeData } from '../../src/artifacts/families/define.ts';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/database.ts';
import { createModelGateway } from '../../src/llm/gateway.ts';
import { offlineModel } from '../../src/llm/resolve.ts';
import { ModelCallError, ModelOutputError, type ResolvedModel } from '../../src/llm/types.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';

// Generation and chat never touch the database; resolution has its own suite (llm-resolve).
const gateway = createModelGateway({ database: undefined as unknown as Database, config: loadConfig({}) });
const persona = FAMILIES.persona;

let fake: FakeProvider;
before(async () => {
  fake = await startFakeProvider();
});
after(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

function modelOn(kind: ResolvedModel['providerKind'], overrides: Partial<ResolvedModel> = {}): ResolvedModel {
  return {
    modelId: `test:${kind}`,
    modelName: kind === 'anthropic' ? 'claude-sonnet-4-5' : 'gpt-4o-mini',
    providerKind: kind,
    baseUrl: fake.url,
    apiKey: 'sk-test-key',
    supportsStructuredOutputs: kind !== 'openai_compatible',
    inputPricePerToken: 0,
    outputPricePerToken: 0,
    timeoutMs: 10_000,
    ...overrides,
  };
}

const generate = (model: ResolvedModel, extra: { signal?: AbortSignal } = {}) =>
  gateway.generateArtifact({ family: persona, instructions: ['A passive student who starts every reply with Uh...'], index: 0, model, ...extra });

/** Every object node of a JSON schema, to check strict-mode rules hold everywhere. */
function objectNodes(schema: any): any[] {
  if (!schema || typeof schema !== 'object') return [];
  const own = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) ? [schema] : [];
  return [...own, ...Object.values(schema).flatMap((value) => (Array.isArray(value) ? value.flatMap(objectNodes) : objectNodes(value)))];
}

describe('offline model', () => {
  it('builds a schema-valid artifact for every family, the same one for the same input', async () => {
    const model = offlineModel(1000);
    for (const family of Object.values(FAMILIES)) {
      for (const index of [0, 1]) {
        const request = { family, instructions: ['A demanding parent asking about grades', 'for a Year 9 class'], title: 'Parents evening', index, model };
        const first = await gateway.generateArtifact(request);
        const second = await gateway.generateArtifact(request);
        assert.ok(completeData(family).safeParse(first.data).success, `${family.type} offline data passes its schema and rules`);
        assert.deepEqual(first, second, `${family.type} offline output is deterministic`);
        assert.deepEqual(first.messages.map((message) => message.role), ['system', 'user', 'assistant']);
        assert.deepEqual(JSON.parse(first.messages[2]!.text).data, first.data);
        assert.equal(first.inputTokens + first.outputTokens, 0);
      }
    }
  });

  it('streams a plain, deterministic reply that says it is offline', async () => {
    const seen: string[] = [];
    const request = { model: offlineModel(1000), system: 'You are Maya, a first-year student.', messages: [{ role: 'user' as const, text: 'Why did you miss the lab?' }] };
    const reply = await gateway.chatReply({ ...request, onText: (text) => seen.push(text) });
    assert.match(reply.text, /offline/i);
    assert.match(reply.text, /Maya/);
    assert.ok(seen.length >= 3, 'several chunks');
    assert.equal(seen.at(-1), reply.text);
    for (let index = 1; index < seen.length; index += 1) assert.ok(seen[index]!.startsWith(seen[index - 1]!));
    assert.equal((await gateway.chatReply(request)).text, reply.text);
  });
});

describe('OpenAI', () => {
  it('sends the strict JSON schema and returns the artifact with its token counts', async () => {
    fake.enqueue({ artifact: 'example', usage: { input: 321, output: 123 } });
    const artifact = await generate(modelOn('openai'));
    assert.deepEqual(artifact.data, persona.example);
    assert.equal(artifact.name, 'Fake persona');
    assert.equal(artifact.inputTokens, 321);
    assert.equal(artifact.outputTokens, 123);
    assert.deepEqual(artifact.messages.map((message) => message.role), ['system', 'user', 'assistant']);

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    assert.equal(request!.path, '/v1/chat/completions');
    assert.equal(request!.headers.authorization, 'Bearer sk-test-key');
    const format = request!.body.response_format;
    assert.equal(format.type, 'json_schema');
    assert.equal(format.json_schema.strict, true);
    const objects = objectNodes(format.json_schema.schema);
    assert.ok(objects.length >= 2);
    for (const node of objects) {
      assert.equal(node.additionalProperties, false);
      assert.deepEqual([...node.required].sort(), Object.keys(node.properties).sort(), 'strict mode lists every property as required');
    }
    // An optional field became nullable rather than optional; its length limit moved to the description.
    const background = format.json_schema.schema.properties.data.properties.background;
    assert.ok(JSON.stringify(background).includes('null'));
    assert.ok(!JSON.stringify(format.json_schema.schema).includes('"maxLength"'));
  });

  it('recovers from 429 (honouring Retry-After) and from 500, with the retries on the wire', async () => {
    fake.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    const artifact = await generate(modelOn('openai'));
    assert.deepEqual(artifact.data, persona.example);
    assert.equal(fake.requests.length, 2);
    const waited = fake.requests[1]!.receivedAt - fake.requests[0]!.receivedAt;
    // The SDK's own first backoff is 2 s; Retry-After: 1 makes it 1 s.
    assert.ok(waited >= 900 && waited < 1900, `waited ${waited} ms`);

    fake.reset();
    fake.enqueue({ status: 500 });
    await generate(modelOn('openai'));
    assert.equal(fake.requests.length, 2);
    assert.ok(fake.requests[1]!.receivedAt - fake.requests[0]!.receivedAt >= 1500, 'exponential backoff before retrying a 500');
  });

  it('gives up on a provider that keeps failing, with a ModelCallError naming the status', async () => {
    fake.enqueue({ status: 429, headers: { 'retry-after-ms': '10' } }, 3);
    await assert.rejects(generate(modelOn('openai')), (error: unknown) => {
      assert.ok(error instanceof ModelCallError);
      assert.equal(error.kind, 'provider');
      assert.equal(error.status, 429);
      return true;
    });
    assert.equal(fake.requests.length, 3, 'one call and two retries');
  });

  it('does not retry a 400', async () => {
    fake.enqueue({ status: 400, body: { error: { message: 'bad schema', type: 'invalid_request_error' } } });
    await assert.rejects(generate(modelOn('openai')), (error: unknown) => error instanceof ModelCallError && error.status === 400 && /bad schema/.test(error.message));
    assert.equal(fake.requests.length, 1);
  });
});

describe('Anthropic', () => {
  it('returns the artifact through the structured output format, with the key in x-api-key', async () => {
    fake.enqueue({ artifact: 'example', usage: { input: 50, output: 40 } });
    const artifact = await generate(modelOn('anthropic'));
    assert.deepEqual(artifact.data, persona.example);
    assert.equal(artifact.inputTokens, 50);
    assert.equal(artifact.outputTokens, 40);
    const [request] = fake.requests;
    assert.equal(request!.path, '/v1/messages');
    assert.equal(request!.headers['x-api-key'], 'sk-test-key');
    assert.match(request!.body.system[0].text, /Artifact type: persona/);
    assert.equal(request!.body.output_config.format.type, 'json_schema');
  });

  it('returns the artifact through the JSON tool on a model without native structured output', async () => {
    const artifact = await generate(modelOn('anthropic', { modelName: 'claude-3-haiku-20240307' }));
    assert.deepEqual(artifact.data, persona.example);
    const [request] = fake.requests;
    assert.ok(request!.body.tools.some((tool: { name: string }) => tool.name === 'json'));
  });
});

describe('OpenAI-compatible servers', () => {
  it('without structured outputs: the schema goes in the prompt and no response_format is sent', async () => {
    const artifact = await generate(modelOn('openai_compatible', { supportsStructuredOutputs: false, apiKey: undefined }));
    assert.deepEqual(artifact.data, persona.example);
    const [request] = fake.requests;
    assert.equal(request!.body.response_format, undefined);
    const system = request!.body.messages[0];
    assert.equal(system.role, 'system');
    assert.match(system.content, /JSON schema of the reply:/);
    assert.match(system.content, /"speaking_style"/);
    assert.equal(request!.headers.authorization, undefined, 'no key configured, none sent');
  });

  it('with structured outputs: the JSON schema is sent as response_format', async () => {
    await generate(modelOn('openai_compatible', { supportsStructuredOutputs: true }));
    const [request] = fake.requests;
    assert.equal(request!.body.response_format.type, 'json_schema');
    assert.ok(request!.body.response_format.json_schema.schema.properties.data);
    assert.doesNotMatch(request!.body.messages[0].content, /JSON schema of the reply/);
  });
});

describe('repairs without another call', () => {
  for (const fault of ['fenced', 'prose', 'truncated', 'extra_keys', 'null_optional'] as const) {
    for (const kind of ['openai', 'openai_compatible'] as const) {
      it(`${fault} output from ${kind}`, async () => {
        fake.enqueue({ artifact: 'example', fault });
        const artifact = await generate(modelOn(kind));
        assert.equal(fake.requests.length, 1);
        assert.ok(persona.data.safeParse(artifact.data).success);
        if (fault !== 'truncated') assert.deepEqual(artifact.data, persona.example);
        else assert.match(artifact.description, /^A persona from the fake provider\./);
        assert.ok(!('internal_notes' in artifact.data));
        assert.equal(artifact.messages.length, 3);
      });
    }
  }
});

describe('re-asks', () => {
  it('quotes a schema violation back to the model and accepts the corrected answer', async () => {
    fake.enqueue({ reply: { name: 'Uh', description: 'Half a persona', data: { role: 'student', intensity: 42 } }, usage: { input: 100, output: 10 } });
    fake.enqueue({ artifact: 'example', usage: { input: 150, output: 60 } });
    const artifact = await generate(modelOn('openai'));
    assert.deepEqual(artifact.data, persona.example);
    assert.equal(fake.requests.length, 2);
    assert.equal(artifact.inputTokens, 250, 'usage summed over attempts');
    assert.equal(artifact.outputTokens, 70);
    assert.deepEqual(artifact.messages.map((message) => message.role), ['system', 'user', 'assistant', 'user', 'assistant']);
    const second = fake.requests[1]!.body.messages;
    assert.equal(second.at(-2).role, 'assistant');
    assert.match(second.at(-2).content, /Half a persona/);
    assert.equal(second.at(-1).role, 'user');
    assert.match(second.at(-1).content, /data\.intensity/);
    assert.match(second.at(-1).content, /data\.speaking_style/);
  });

  it('quotes a broken cross-field rule back to the model too (a setting whose value is not its value_type)', async () => {
    const setting = FAMILIES.setting;
    fake.enqueue({ reply: { name: 'Retention', description: 'How long transcripts are kept', data: { ...setting.example, value: 'ninety', value_type: 'integer' } } });
    fake.enqueue({ artifact: 'example' });
    const artifact = await gateway.generateArtifact({ family: setting, instructions: ['Keep transcripts for ninety days'], index: 0, model: modelOn('openai') });
    assert.deepEqual(artifact.data, setting.example);
    assert.equal(fake.requests.length, 2);
    assert.match(fake.requests[1]!.body.messages.at(-1).content, /data\.value: must read as integer, as value_type says/);
  });

  it('ends with ModelOutputError after three answers of garbage, keeping the raw text', async () => {
    fake.setDefault({ reply: 'I am sorry, I cannot help with that.', usage: { input: 10, output: 5 } });
    await assert.rejects(generate(modelOn('openai_compatible')), (error: unknown) => {
      assert.ok(error instanceof ModelOutputError);
      assert.equal(error.rawText, 'I am sorry, I cannot help with that.');
      assert.equal(error.inputTokens, 30);
      assert.equal(error.outputTokens, 15);
      assert.deepEqual(error.messages.map((message) => message.role), ['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
      return true;
    });
    assert.equal(fake.requests.length, 3);
  });
});

describe('timeouts and cancellation', () => {
  it('a server that never answers fails within the model timeout', async () => {
    fake.setDefault({ hang: true });
    const started = Date.now();
    await assert.rejects(generate(modelOn('openai', { timeoutMs: 300 })), (error: unknown) => {
      assert.ok(error instanceof ModelCallError);
      assert.equal(error.kind, 'timeout');
      assert.match(error.message, /300 ms/);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 2000, `failed after ${elapsed} ms`);
    assert.equal(fake.requests.length, 1, 'a timeout is not retried');
  });

  it('a slow answer inside the timeout is fine', async () => {
    fake.enqueue({ delayMs: 150 });
    const artifact = await generate(modelOn('anthropic', { timeoutMs: 5000 }));
    assert.deepEqual(artifact.data, persona.example);
  });

  it("the caller's signal aborts the call with the signal's reason", async () => {
    fake.setDefault({ hang: true });
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    await assert.rejects(generate(modelOn('openai'), { signal: controller.signal }), (error: unknown) => error === reason);
    assert.ok(Date.now() - started < 2000);
  });

  it('a chat reply times out too', async () => {
    fake.setDefault({ hang: true });
    await assert.rejects(
      gateway.chatReply({ model: modelOn('anthropic', { timeoutMs: 300 }), system: 'You are Maya.', messages: [{ role: 'user', text: 'Hello' }] }),
      (error: unknown) => error instanceof ModelCallError && error.kind === 'timeout',
    );
  });
});

describe('chat replies', () => {
  for (const kind of ['openai', 'anthropic', 'openai_compatible'] as const) {
    it(`stream progressively from ${kind}`, async () => {
      fake.enqueue({ reply: 'Uh... I guess I was just really tired that week, sorry.', chunks: 6, chunkDelayMs: 20, usage: { input: 42, output: 17 } });
      const seen: { text: string; at: number }[] = [];
      const reply = await gateway.chatReply({
        model: modelOn(kind),
        system: 'You are Maya, a passive student.',
        messages: [
          { role: 'user', text: 'Hi Maya.' },
          { role: 'assistant', text: 'Uh... hi.' },
          { role: 'user', text: 'Why did you miss the deadline?' },
        ],
        onText: (text) => seen.push({ text, at: Date.now() }),
      });
      assert.equal(reply.text, 'Uh... I guess I was just really tired that week, sorry.');
      assert.equal(reply.inputTokens, 42);
      assert.equal(reply.outputTokens, 17);
      assert.ok(seen.length >= 4, `${seen.length} updates`);
      for (let index = 1; index < seen.length; index += 1) assert.ok(seen[index]!.text.startsWith(seen[index - 1]!.text));
      assert.equal(seen.at(-1)!.text, reply.text);
      assert.ok(seen.at(-1)!.at - seen[0]!.at >= 60, 'updates arrive as the chunks do, not all at the end');

      const [request] = fake.requests;
      assert.equal(request!.body.stream, true);
      const roles = kind === 'anthropic' ? request!.body.messages.map((message: { role: string }) => message.role) : request!.body.messages.map((message: { role: string }) => message.role).slice(1);
      assert.deepEqual(roles, ['user', 'assistant', 'user']);
    });
  }

  it('retries a 500 before streaming', async () => {
    fake.enqueue({ status: 503, headers: { 'retry-after-ms': '10' } });
    const reply = await gateway.chatReply({ model: modelOn('openai'), system: 'You are Maya.', messages: [{ role: 'user', text: 'Hello' }] });
    assert.equal(reply.text, 'Fake reply to: Hello');
    assert.equal(fake.requests.length, 2);
  });
});
