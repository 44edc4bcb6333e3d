import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { insertArtifact } from '../../src/artifacts/store.ts';
import { loadConfig, type Environment } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { AppError } from '../../src/http/errors.ts';
import { createModelGateway } from '../../src/llm/gateway.ts';
import { ModelCallError } from '../../src/llm/types.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';

let database: Database;
let dataDir: string;
let fake: FakeProvider;
const orgId = uuidv7();
const otherOrgId = uuidv7();
const authorId = uuidv7();
const KEY_VARIABLE = 'GLOW_TEST_CAMPUS_LLM_KEY';

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-llm-'));
  database = await openDatabase({ dataDir });
  await migrateToLatest(database);
  await database.db.insertInto('orgs').values([{ id: orgId, name: 'llm-resolve' }, { id: otherOrgId, name: 'llm-resolve-other' }]).execute();
  fake = await startFakeProvider();
});
after(async () => {
  await fake.close();
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
  delete process.env[KEY_VARIABLE];
});
beforeEach(() => fake.reset());

const gatewayWith = (environment: Partial<Environment> = {}) => createModelGateway({ database, config: loadConfig({}, { GLOW_PROVIDER_KEY_ENVS: KEY_VARIABLE, ...environment }) });

async function addProvider(data: Record<string, unknown>, org = orgId) {
  return insertArtifact(database.db, { orgId: org, type: 'provider', name: 'Campus LLM', description: '', status: 'published', data, createdBy: authorId });
}

async function addModel(data: Record<string, unknown>, options: { org?: string; status?: 'draft' | 'published' } = {}) {
  return insertArtifact(database.db, {
    orgId: options.org ?? orgId, type: 'model', name: String(data.model_name), description: '', status: options.status ?? 'published', data, createdBy: authorId,
  });
}

const textModel = (providerId: string, extra: Record<string, unknown> = {}) => ({
  provider_id: providerId, model_name: 'campus-llama', purpose: 'text', input_price_per_token: 0.000001, output_price_per_token: 0.000002, ...extra,
});

function assertBadModelId(error: unknown): boolean {
  assert.ok(error instanceof AppError);
  assert.equal(error.status, 400);
  assert.match(error.message, /config\.params\.model_id/);
  return true;
}

describe('resolveModel', () => {
  it('is offline when nothing is configured, or when asked for', async () => {
    const gateway = gatewayWith({ GLOW_LLM_TIMEOUT_MS: 4321 });
    const fresh = uuidv7();
    await database.db.insertInto('orgs').values({ id: fresh, name: `empty-${fresh}` }).execute();
    assert.deepEqual(await gateway.resolveModel(fresh), {
      modelId: 'offline', modelName: 'offline', providerKind: 'offline', inputPricePerToken: 0, outputPricePerToken: 0, timeoutMs: 4321,
    });
    assert.equal((await gatewayWith({ OPENAI_API_KEY: 'sk-env' }).resolveModel(orgId, 'offline')).providerKind, 'offline');
  });

  it('takes the environment default: OpenAI-compatible URL first, then OpenAI, then Anthropic', async () => {
    const fresh = uuidv7();
    await database.db.insertInto('orgs').values({ id: fresh, name: `env-${fresh}` }).execute();
    const compatible = await gatewayWith({ GLOW_LLM_BASE_URL: fake.url, GLOW_LLM_MODEL: 'llama3.1', OPENAI_API_KEY: 'sk-env' }).resolveModel(fresh);
    assert.equal(compatible.modelId, 'env:openai_compatible:llama3.1');
    assert.equal(compatible.baseUrl, fake.url);
    const openai = await gatewayWith({ OPENAI_API_KEY: 'sk-env', ANTHROPIC_API_KEY: 'sk-ant' }).resolveModel(fresh);
    assert.equal(openai.modelId, 'env:openai:gpt-4o-mini');
    assert.ok(openai.inputPricePerToken > 0);
    assert.equal(openai.apiKey, undefined, 'the key stays in the environment');
    const anthropic = await gatewayWith({ ANTHROPIC_API_KEY: 'sk-ant' }).resolveModel(fresh);
    assert.equal(anthropic.modelId, 'env:anthropic:claude-sonnet-4-5');
    assert.equal(anthropic.providerKind, 'anthropic');
  });

  it('generates through the environment default against an OpenAI-compatible server', async () => {
    const fresh = uuidv7();
    await database.db.insertInto('orgs').values({ id: fresh, name: `env-run-${fresh}` }).execute();
    const gateway = gatewayWith({ GLOW_LLM_BASE_URL: fake.url, GLOW_LLM_MODEL: 'llama3.1', GLOW_LLM_API_KEY: 'local-secret' });
    const model = await gateway.resolveModel(fresh);
    const artifact = await gateway.generateArtifact({ family: FAMILIES.scenario, instructions: ['A parent evening about a failing grade'], index: 0, model });
    assert.ok(FAMILIES.scenario.data.safeParse(artifact.data).success);
    assert.equal(fake.requests[0]!.body.model, 'llama3.1');
    assert.equal(fake.requests[0]!.headers.authorization, 'Bearer local-secret');
  });

  it("uses a model artifact's provider, reading the key from the variable the provider names at call time", async () => {
    const provider = await addProvider({ kind: 'openai_compatible', base_url: fake.url, api_key_env: KEY_VARIABLE, timeout_ms: 45000, supports_structured_outputs: true });
    const model = await addModel(textModel(provider.id, { max_output_tokens: 900 }));
    const gateway = gatewayWith({ OPENAI_API_KEY: 'sk-not-this-one' });
    const resolved = await gateway.resolveModel(orgId, model.id);
    assert.equal(resolved.modelId, model.id);
    assert.equal(resolved.modelName, 'campus-llama');
    assert.equal(resolved.providerKind, 'openai_compatible');
    assert.equal(resolved.providerId, provider.id);
    assert.equal(resolved.timeoutMs, 45000);
    assert.equal(resolved.inputPricePerToken, 0.000001);
    assert.equal(resolved.outputPricePerToken, 0.000002);
    assert.equal(resolved.supportsStructuredOutputs, true);
    assert.ok(!JSON.stringify(resolved).includes('campus-secret'));

    delete process.env[KEY_VARIABLE];
    await assert.rejects(
      gateway.generateArtifact({ family: FAMILIES.persona, instructions: ['x'], index: 0, model: resolved }),
      (error: unknown) => error instanceof ModelCallError && error.kind === 'configuration' && error.message.includes(KEY_VARIABLE),
    );
    assert.equal(fake.requests.length, 0);

    process.env[KEY_VARIABLE] = 'campus-secret';
    await gateway.generateArtifact({ family: FAMILIES.persona, instructions: ['x'], index: 0, model: resolved });
    const [request] = fake.requests;
    assert.equal(request!.headers.authorization, 'Bearer campus-secret');
    assert.equal(request!.body.model, 'campus-llama');
    assert.equal(request!.body.max_tokens, 900);
    assert.equal(request!.body.response_format.type, 'json_schema');
  });

  it("picks the org's default model for the purpose when the request names none", async () => {
    const provider = await addProvider({ kind: 'anthropic', base_url: fake.anthropicUrl, api_key_env: KEY_VARIABLE });
    await addModel(textModel(provider.id, { model_name: 'claude-haiku-4-5' }));
    const chosen = await addModel(textModel(provider.id, { model_name: 'claude-sonnet-4-5', is_default: true }));
    await addModel({ ...textModel(provider.id, { model_name: 'whisper-1', is_default: true }), purpose: 'transcription' });
    await addModel(textModel(provider.id, { model_name: 'claude-opus-4-5', is_default: true }), { status: 'draft' });
    const gateway = gatewayWith({ OPENAI_API_KEY: 'sk-env' });
    const resolved = await gateway.resolveModel(orgId);
    assert.equal(resolved.modelId, chosen.id);
    assert.equal(resolved.providerKind, 'anthropic');
    assert.equal((await gateway.resolveModel(orgId, undefined, 'transcription')).modelName, 'whisper-1');
    // Another org does not see it.
    assert.equal((await gateway.resolveModel(otherOrgId)).modelId, 'env:openai:gpt-4o-mini');
  });

  it('rejects an unknown, foreign, draft or wrong-purpose model id with a 400 naming config.params.model_id', async () => {
    const gateway = gatewayWith();
    const provider = await addProvider({ kind: 'openai', api_key_env: 'OPENAI_API_KEY' });
    const draft = await addModel(textModel(provider.id), { status: 'draft' });
    const foreignProvider = await addProvider({ kind: 'openai', api_key_env: 'OPENAI_API_KEY' }, otherOrgId);
    const foreign = await addModel(textModel(foreignProvider.id), { org: otherOrgId });
    const speech = await addModel({ ...textModel(provider.id), purpose: 'speech' });
    await assert.rejects(gateway.resolveModel(orgId, 'gpt-4o'), assertBadModelId);
    await assert.rejects(gateway.resolveModel(orgId, uuidv7()), assertBadModelId);
    await assert.rejects(gateway.resolveModel(orgId, draft.id), assertBadModelId);
    await assert.rejects(gateway.resolveModel(orgId, foreign.id), assertBadModelId);
    await assert.rejects(gateway.resolveModel(orgId, speech.id), assertBadModelId);
  });

  it('a model with only a provider_kind uses the instance credentials of that vendor', async () => {
    const model = await addModel({ provider_kind: 'openai', model_name: 'gpt-4.1', purpose: 'text', input_price_per_token: 0.000002, output_price_per_token: 0.000008 });
    const gateway = gatewayWith({ OPENAI_API_KEY: 'sk-instance', OPENAI_BASE_URL: fake.url });
    const resolved = await gateway.resolveModel(orgId, model.id);
    assert.equal(resolved.providerKind, 'openai');
    assert.equal(resolved.baseUrl, fake.url);
    await gateway.generateArtifact({ family: FAMILIES.rubric, instructions: ['Grade empathy'], index: 0, model: resolved });
    assert.equal(fake.requests[0]!.headers.authorization, 'Bearer sk-instance');
    assert.equal(fake.requests[0]!.body.model, 'gpt-4.1');
  });
});
