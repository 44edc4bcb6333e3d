import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import type { ArtifactType, FamilyDefinition } from '../../src/artifacts/types.ts';
import { getHarness, type ApiClient, type Harness, type TestOrg } from '../support/harness.ts';

/** The family's example with its artifact references pointing at real records of the org, and no upload references. */
async function realExample(client: ApiClient, family: FamilyDefinition, made = new Map<ArtifactType, string>()): Promise<Record<string, unknown>> {
  const data: Record<string, unknown> = structuredClone(family.example);
  for (const field of Object.keys(family.uploadRefs ?? {})) delete data[field];
  for (const [field, type] of Object.entries(family.artifactRefs ?? {})) {
    if (data[field] === undefined) continue;
    let id = made.get(type);
    if (!id) {
      id = await createRecord(client, type, made);
      made.set(type, id);
    }
    data[field] = Array.isArray(data[field]) ? [id] : id;
  }
  return data;
}

async function createRecord(client: ApiClient, type: ArtifactType, made: Map<ArtifactType, string>): Promise<string> {
  if (type === 'profile') {
    const response = await client.post('/profile/create', { name: 'Referenced person', email: `ref-${Math.random().toString(36).slice(2)}@example.edu`, role: 'member' });
    assert.equal(response.status, 200, response.text);
    return response.body.id;
  }
  const family = FAMILIES[type];
  const response = await client.post(`/${type}/create`, { name: `${type} for reference`, data: await realExample(client, family, made) });
  assert.equal(response.status, 200, `${type}/create: ${response.text}`);
  return response.body.id;
}

describe('artifact families', () => {
  let harness: Harness;
  let org: TestOrg;

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('families');
  });

  for (const family of Object.values(FAMILIES)) {
    if (family.type === 'system') continue;
    test(`${family.type}: create → get → update → search → delete`, async () => {
      const client = org.admin;
      const type = family.type;
      let created;
      if (type === 'profile') {
        created = await client.post('/profile/create', { name: 'Round Trip Person', email: 'round.trip@example.edu', role: 'member' });
      } else if (type === 'auth') {
        created = await client.post('/auth/create', { profile_id: org.adminProfileId, name: 'Round Trip token' });
        assert.equal(created.status, 200, created.text);
        created = await client.post('/auth/get', { id: created.body.id });
      } else {
        created = await client.post(`/${type}/create`, { name: `Round Trip ${type}`, description: 'made by the test', data: await realExample(client, family) });
      }
      assert.equal(created.status, 200, created.text);
      const record = created.body;
      assert.equal(record.status, 'published');
      assert.equal(record.version, 1);
      assert.equal(record.created_by, org.adminProfileId);
      assert.deepEqual(Object.keys(record).sort(), ['created_at', 'created_by', 'data', 'description', 'id', 'name', 'status', 'updated_at', 'version']);
      family.data.parse(record.data);

      const read = await client.post(`/${type}/get`, { id: record.id });
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, record);

      const updated = await client.post(`/${type}/update`, { id: record.id, name: `Renamed ${type}`, expected_version: 1 });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.version, 2);
      assert.equal(updated.body.name, `Renamed ${type}`);
      const stale = await client.post(`/${type}/update`, { id: record.id, name: 'stale', expected_version: 1 });
      assert.equal(stale.status, 409);

      const found = await client.post(`/${type}/search`, { search: `Renamed ${type}` });
      assert.equal(found.status, 200);
      assert.equal(found.body.total_count, 1);
      assert.equal(found.body.items[0].id, record.id);

      const row = await harness.database.db.selectFrom('artifacts').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
      assert.equal(row.type, type);
      assert.equal(row.version, 2);

      const deleted = await client.post(`/${type}/delete`, { id: record.id });
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.body, { id: record.id, deleted: true });
      assert.equal((await client.post(`/${type}/get`, { id: record.id })).status, 404);
      const gone = await harness.database.db.selectFrom('artifacts').select('id').where('id', '=', record.id).execute();
      assert.equal(gone.length, 0);
    });
  }

  test('drafts: partial data, private to their author, published after full validation', async () => {
    const { client: author } = await org.addProfile('member');
    const { client: colleague } = await org.addProfile('member');
    const draft = await author.post('/persona/draft', { name: 'Half-done persona', data: { intensity: 3 } });
    assert.equal(draft.status, 200, draft.text);
    assert.equal(draft.body.status, 'draft');

    assert.equal((await colleague.post('/persona/get', { id: draft.body.id })).status, 404);
    const colleagueSees = await colleague.post('/persona/search', { search: 'Half-done' });
    assert.equal(colleagueSees.body.total_count, 0);
    const published = await author.post('/persona/search', { search: 'Half-done', status: 'published' });
    assert.equal(published.body.total_count, 0, 'a draft is not listed as published');

    const incomplete = await author.post('/persona/create', { draft_id: draft.body.id });
    assert.equal(incomplete.status, 400, 'publishing validates the full schema');
    assert.equal((await author.post('/persona/get', { id: draft.body.id })).body.status, 'draft');

    const completed = await author.post('/persona/draft', { id: draft.body.id, data: FAMILIES.persona.example });
    assert.equal(completed.status, 200);
    const publish = await author.post('/persona/create', { draft_id: draft.body.id });
    assert.equal(publish.status, 200, publish.text);
    assert.equal(publish.body.status, 'published');
    assert.equal(publish.body.id, draft.body.id);
    assert.equal((await colleague.post('/persona/get', { id: draft.body.id })).status, 200);

    const redraft = await author.post('/persona/draft', { id: draft.body.id, name: 'again' });
    assert.equal(redraft.status, 409);
  });

  test('rules across fields: refused on create, publish and data updates (400 naming the field); a draft and a rename may break them', async () => {
    const example = FAMILIES.parameter.example;
    const broken = { ...example, default_value: 'a lot' };
    const created = await org.admin.post('/parameter/create', { name: 'Reply length', data: broken });
    assert.equal(created.status, 400, created.text);
    assert.equal(created.body.error.code, 'invalid_request');
    assert.match(created.body.error.message, /data\.default_value: must read as integer, as type says: a whole number such as '90', not "a lot"/);
    assert.equal((await org.admin.post('/parameter/search', { search: 'Reply length' })).body.total_count, 0, 'nothing stored');

    const draft = await org.admin.post('/parameter/draft', { name: 'Reply length', data: broken });
    assert.equal(draft.status, 200, 'a draft may be inconsistent while it is written');
    const publish = await org.admin.post('/parameter/create', { draft_id: draft.body.id });
    assert.equal(publish.status, 400, publish.text);
    assert.match(publish.body.error.message, /data\.default_value: must read as integer/);
    assert.equal((await org.admin.post('/parameter/get', { id: draft.body.id })).body.status, 'draft');

    const record = await org.admin.post('/parameter/create', { name: 'Reply length', data: example });
    assert.equal(record.status, 200, record.text);
    const narrowed = await org.admin.post('/parameter/update', { id: record.body.id, data: { ...example, min: 200 } });
    assert.equal(narrowed.status, 400, narrowed.text);
    assert.match(narrowed.body.error.message, /data\.default_value: must be at least min \(200\)/);
    const renamed = await org.admin.post('/parameter/update', { id: record.body.id, name: 'Longest reply' });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.version, 2, 'the refused update made no version');
  });

  test('search pages newest first with the exact total_count', async () => {
    const paging = await harness.newOrg('paging');
    const ids: string[] = [];
    for (let index = 0; index < 7; index += 1) {
      const response = await paging.admin.post('/tool/create', { name: `Tool ${index}`, data: FAMILIES.tool.example });
      ids.push(response.body.id);
    }
    const firstPage = await paging.admin.post('/tool/search', { page_limit: 3 });
    assert.equal(firstPage.body.total_count, 7);
    assert.deepEqual(firstPage.body.items.map((item: { id: string }) => item.id), ids.slice().reverse().slice(0, 3));
    const lastPage = await paging.admin.post('/tool/search', { page_limit: 3, page_offset: 6 });
    assert.equal(lastPage.body.items.length, 1);
    assert.equal(lastPage.body.total_count, 7);
    const text = await paging.admin.post('/tool/search', { search: 'Tool 4' });
    assert.equal(text.body.total_count, 1);
    // The data's text values are searched at any depth, but not its keys or JSON punctuation.
    const parameterName = (FAMILIES.tool.example as { parameters: { name: string }[] }).parameters[0]!.name;
    assert.equal((await paging.admin.post('/tool/search', { search: parameterName.toUpperCase() })).body.total_count, 7, 'a nested value');
    assert.equal((await paging.admin.post('/tool/search', { search: 'parameters' })).body.total_count, 0, 'a key');
    assert.equal((await paging.admin.post('/tool/search', { search: '":' })).body.total_count, 0, 'JSON punctuation');
    const tooBig = await paging.admin.post('/tool/search', { page_limit: 101 });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error.message, /page_limit/);
  });

  test('references to other artifacts must exist in the caller\'s org', async () => {
    const data = { ...(await realExample(org.admin, FAMILIES.simulation)), persona_id: '0190b3a4-0000-7000-8000-00000000dead' };
    const response = await org.admin.post('/simulation/create', { name: 'Broken', data });
    assert.equal(response.status, 404);
    assert.match(response.body.error.message, /persona_id/);
  });
});
