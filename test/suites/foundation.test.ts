import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { LISTEN_APPLICATION_NAME } from '../../src/db/database.ts';
import { vacuumTables } from '../../src/db/maintenance.ts';
import { eventually } from '../support/eventually.ts';
import { ApiClient, getHarness, startServer, type Harness, type TestOrg } from '../support/harness.ts';

const personaData = {
  role: 'student',
  description: 'A passive first-year student who hedges every answer.',
  traits: ['passive', 'hesitant'],
  speaking_style: 'Starts every reply with "Uh..." and trails off.',
  intensity: 4,
};

describe('foundation', () => {
  let harness: Harness;
  let orgA: TestOrg;
  let orgB: TestOrg;

  before(async () => {
    harness = await getHarness();
    orgA = await harness.newOrg('a');
    orgB = await harness.newOrg('b');
  });

  test('health and readiness need no token', async () => {
    const health = await harness.anonymous.get('/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    const ready = await harness.anonymous.get('/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', database: harness.backend, pending_migrations: [] });
  });

  test('no token or a wrong token is 401 with a JSON error', async () => {
    const none = await harness.anonymous.post('/persona/search', {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthorized');
    const wrong = await harness.anonymous.withToken('glow_not-a-token').post('/persona/search', {});
    assert.equal(wrong.status, 401);
  });

  test('X-Api-Key is accepted as the same thing as a bearer token', async () => {
    const { token } = await orgA.addProfile('member');
    const response = await harness.anonymous.post('/persona/search', {}, { 'x-api-key': token });
    assert.equal(response.status, 200);
    assert.equal(response.body.total_count, 0);
  });

  test('a JSON body sent with curl -d (form content type) is still read as JSON', async () => {
    const response = await harness.anonymous.request('POST', '/persona/search', {
      rawBody: '{"page_limit": 5}',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${orgA.admin.token}` },
    });
    assert.equal(response.status, 200);
  });

  test('a query parameter an operation does not take is refused like an unknown body field; none leaves a record behind', async () => {
    const org = await harness.newOrg('query');
    for (const [path, body] of [
      ['/persona/search?colour=blue', {}],
      ['/persona/create?draft=1', { name: 'Q', data: FAMILIES.persona.example }],
      ['/persona/generate?foo=1&bar=2', { instructions: ['x'] }],
    ] as const) {
      const refused = await org.admin.post(path, body);
      assert.equal(refused.status, 400, `${path}: ${refused.text}`);
      assert.match(refused.body.error.message, /^Unknown fields?: (colour|draft|foo, bar)\./, path);
    }
    assert.equal((await org.admin.post('/persona/search', {})).body.total_count, 0);
    assert.equal((await org.admin.post('/persona/search?', {})).status, 200, 'an empty query is no parameter');
  });

  test('malformed JSON is a 400 JSON error', async () => {
    const response = await harness.anonymous.request('POST', '/persona/search', {
      rawBody: '{"page_limit": ',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${orgA.admin.token}` },
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, 'invalid_json');
    const nullBody = await harness.anonymous.request('POST', '/persona/search', {
      rawBody: 'null',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${orgA.admin.token}` },
    });
    assert.equal(nullBody.status, 400);
    assert.match(nullBody.body.error.message, /JSON object/);
  });

  test('text the database cannot hold (a NUL character, half a surrogate pair) is a 400 naming the field, and nothing is written', async () => {
    const before = await harness.database.db.selectFrom('artifacts').select((eb) => eb.fn.countAll<string>().as('count')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    const runsBefore = await harness.database.db.selectFrom('generation_runs').select((eb) => eb.fn.countAll<string>().as('count')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    const cases: [string, string, string][] = [
      ['/persona/create', `{"name":"a\\u0000b","data":${JSON.stringify(FAMILIES.persona.example)}}`, 'name'],
      ['/persona/generate', '{"instructions":["fine","a\\ud800b"]}', 'instructions[1]'],
      ['/persona/generate', '{"instructions":["x"],"title":"\\uDC00"}', 'title'],
      ['/persona/search', '{"search":"a\\u0000"}', 'search'],
    ];
    for (const [path, rawBody, field] of cases) {
      const response = await harness.anonymous.request('POST', path, { rawBody, headers: { 'content-type': 'application/json', authorization: `Bearer ${orgA.admin.token}` } });
      assert.equal(response.status, 400, `${path} ${rawBody}: ${response.text}`);
      assert.equal(response.body.error.code, 'invalid_request');
      assert.deepEqual(response.body.error.details.fields.map((item: { path: string }) => item.path), [field]);
      assert.match(response.body.error.message, /NUL character/);
    }
    // A surrogate pair written as two escapes is one character, and fine.
    const paired = await harness.anonymous.request('POST', '/persona/search', { rawBody: '{"search":"\\ud83d\\ude00"}', headers: { 'content-type': 'application/json', authorization: `Bearer ${orgA.admin.token}` } });
    assert.equal(paired.status, 200, paired.text);
    const after = await harness.database.db.selectFrom('artifacts').select((eb) => eb.fn.countAll<string>().as('count')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    const runsAfter = await harness.database.db.selectFrom('generation_runs').select((eb) => eb.fn.countAll<string>().as('count')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    assert.equal(Number(after.count), Number(before.count));
    assert.equal(Number(runsAfter.count), Number(runsBefore.count));
  });

  test('a known path asked with the wrong method is 405 naming the right one; an unknown path is 404', async () => {
    const wrongMethod = await orgA.admin.get('/persona/search');
    assert.equal(wrongMethod.status, 405, wrongMethod.text);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.equal(wrongMethod.body.error.code, 'method_not_allowed');
    assert.match(wrongMethod.body.error.message, /takes POST, not GET/);
    const watchByPost = await orgA.admin.post('/persona/watch', {});
    assert.equal(watchByPost.status, 405);
    assert.equal(watchByPost.headers.get('allow'), 'GET, HEAD');
    const unknown = await orgA.admin.get('/persona/nothing');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
  });

  test('invalid persona data is 400 naming the field; unknown fields are 400 naming them', async () => {
    const invalid = await orgA.admin.post('/persona/create', { name: 'Too intense', data: { ...personaData, intensity: 11 } });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.message, /data\.intensity/);
    assert.equal(invalid.body.error.details.fields[0].path, 'data.intensity');

    const unknownTop = await orgA.admin.post('/persona/create', { name: 'X', data: personaData, colour: 'blue' });
    assert.equal(unknownTop.status, 400);
    assert.match(unknownTop.body.error.message, /colour/);
    assert.deepEqual(unknownTop.body.error.details.unknown_fields, ['colour']);

    const unknownNested = await orgA.admin.post('/persona/create', { name: 'X', data: { ...personaData, mood: 'grumpy' } });
    assert.equal(unknownNested.status, 400);
    assert.deepEqual(unknownNested.body.error.details.unknown_fields, ['data.mood']);
  });

  test('a refused field is told what it must be, in words: the same in the message and beside each field', async () => {
    const { speaking_style: _left, ...withoutStyle } = personaData;
    const refused = await orgA.admin.post('/persona/create', {
      name: '',
      data: { ...withoutStyle, role: 'r', traits: 'shy', intensity: 2.5, voice: 'alloy' },
    });
    assert.equal(refused.status, 400);
    const byPath = Object.fromEntries(refused.body.error.details.fields.map((field: { path: string; message: string }) => [field.path, field.message]));
    assert.deepEqual(byPath, {
      name: 'must not be empty',
      'data.role': 'must be at least 2 characters long',
      'data.traits': 'must be a list, not text',
      'data.speaking_style': 'is required',
      'data.intensity': 'must be a whole number, not a fractional number',
      'data.voice': 'must be an object, not text',
    });
    assert.match(refused.body.error.message, /data\.traits: must be a list, not text\./);
    const tooIntense = await orgA.admin.post('/persona/create', { name: 'X', data: { ...personaData, intensity: 11 } });
    assert.equal(tooIntense.body.error.details.fields[0].message, 'must be at most 10');
    const badId = await orgA.admin.post('/persona/get', { id: 'not-an-id' });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.details.fields[0].message, 'must be a UUID');
    const badChoice = await orgA.admin.post('/scenario/create', { name: 'X', data: { ...FAMILIES.scenario.example, difficulty: 'hard' } });
    assert.equal(badChoice.status, 400);
    assert.equal(badChoice.body.error.details.fields[0].message, 'must be one of "introductory", "intermediate", "advanced"');
    const blank = await orgA.admin.post('/persona/create', { name: '   ', data: personaData });
    assert.equal(blank.body.error.details.fields[0].message, 'must not be empty');
    // An update of nothing is refused rather than making a new version that breaks others' expected_version.
    const created = await orgA.admin.post('/persona/create', { name: 'Versioned', data: personaData });
    const nothing = await orgA.admin.post('/persona/update', { id: created.body.id, expected_version: 1 });
    assert.equal(nothing.status, 400, nothing.text);
    assert.match(nothing.body.error.message, /give name, description or data to change/);
    assert.equal((await orgA.admin.post('/persona/get', { id: created.body.id })).body.version, 1);
    const twoModalities = await orgA.admin.post('/scenario/generate', { instructions: ['x'], modality: 'text', modalities: ['image'] });
    assert.equal(twoModalities.status, 400);
    assert.match(twoModalities.body.error.message, /modalities: differs from modality/);
    assert.equal((await orgA.admin.post('/persona/generate', {})).body.error.details.fields[0].message, 'is required unless a modality is given');
    // A union names its forms; a pattern says what it takes, never the regular expression.
    const forms = await orgA.admin.post('/persona/generate', { modality: 'smell', audio: {} });
    assert.deepEqual(Object.fromEntries(forms.body.error.details.fields.map((field: { path: string; message: string }) => [field.path, field.message])), {
      modality: 'is none of the forms this field takes: one of "text", "image", "video", "audio"; a list',
      audio: 'is none of the forms this field takes: an object with audios_id; an object with upload_id',
    });
    const pattern = await orgA.admin.post('/provider/create', { name: 'p', data: { kind: 'openai', api_key_env: 'sk-live-abc' } });
    assert.match(pattern.body.error.message, /data\.api_key_env: must be the NAME of an environment variable/);
    assert.doesNotMatch(pattern.body.error.message, /pattern|\^\[/);
    // One bound per field: not zod's safe-integer range beside the field's own.
    const hugeLimit = await orgA.admin.post('/persona/search', { page_limit: 1e308 });
    assert.equal(hugeLimit.body.error.message, 'page_limit: must be at most 100.');
    // Fastify's own refusals, in sentences that say what to send.
    const xml = await orgA.admin.request('POST', '/persona/search', { rawBody: '<search/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.status, 415);
    assert.equal(xml.body.error.message, 'This route reads a JSON body: send it as Content-Type: application/json, not application/xml.');
    const huge = await orgA.admin.request('POST', '/persona/search', { rawBody: JSON.stringify({ search: 'x'.repeat(5 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    assert.equal(huge.status, 413);
    assert.match(huge.body.error.message, /larger than the 4 MiB a JSON body may be/);
    // A compressed body is not decoded: 415 naming the coding, not "not valid JSON".
    const gzipped = await orgA.admin.request('POST', '/persona/search', { rawBody: gzipSync(JSON.stringify({ search: 'x' })), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    assert.equal(gzipped.status, 415, gzipped.text);
    assert.equal(gzipped.body.error.message, 'Request bodies are taken as sent, not decoded: send this one without Content-Encoding (gzip).');
  });

  test('another org\'s persona is 404 to read, change or delete', async () => {
    const created = await orgA.admin.post('/persona/create', { name: 'Uh student', data: personaData });
    assert.equal(created.status, 200);
    const { client: memberB } = await orgB.addProfile('member');
    for (const [path, body] of [
      ['/persona/get', { id: created.body.id }],
      ['/persona/update', { id: created.body.id, name: 'stolen' }],
      ['/persona/delete', { id: created.body.id }],
    ] as const) {
      const response = await memberB.post(path, body);
      assert.equal(response.status, 404, path);
      assert.equal(response.body.error.code, 'not_found');
    }
    const adminB = await orgB.admin.post('/persona/get', { id: created.body.id });
    assert.equal(adminB.status, 404);
    const stillThere = await orgA.admin.post('/persona/get', { id: created.body.id });
    assert.equal(stillThere.body.name, 'Uh student');
  });

  test('profile/me names the token\'s profile, org, role and session; the operator is marked', async () => {
    const { profileId, client } = await orgA.addProfile('member', 'Mia Member');
    const me = await client.post('/profile/me', {});
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.profile.id, profileId);
    assert.equal(me.body.profile.data.name, 'Mia Member');
    assert.equal(me.body.org_id, orgA.orgId);
    assert.equal(me.body.role, 'member');
    assert.equal(me.body.operator, false);
    const session = await harness.database.db.selectFrom('api_tokens').select(['id', 'profile_id']).where('id', '=', me.body.session_id).executeTakeFirstOrThrow();
    assert.equal(session.profile_id, profileId);
    const admin = await orgA.admin.post('/profile/me', {});
    assert.equal(admin.body.role, 'admin');
    assert.equal((await harness.operator.post('/profile/me', {})).body.operator, true);
    assert.equal((await harness.anonymous.post('/profile/me', {})).status, 401);
  });

  test('profiles and tokens have no drafts: their draft operation is 400 and writes nothing', async () => {
    const before = await harness.database.db.selectFrom('artifacts').select((eb) => eb.fn.countAll<string>().as('n')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    for (const [type, body] of [['profile', { name: 'Half a person' }], ['auth', { name: 'Half a token' }]] as const) {
      const response = await orgA.admin.post(`/${type}/draft`, body);
      assert.equal(response.status, 400, type);
      assert.equal(response.body.error.code, 'not_supported');
      assert.match(response.body.error.message, new RegExp(`${type}/create`));
    }
    const after = await harness.database.db.selectFrom('artifacts').select((eb) => eb.fn.countAll<string>().as('n')).where('org_id', '=', orgA.orgId).executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
  });

  test('members cannot do admin-only operations (403)', async () => {
    const { client: member } = await orgA.addProfile('member');
    const profile = await member.post('/profile/create', { name: 'Sneaky', email: 'sneaky@example.edu', role: 'admin' });
    assert.equal(profile.status, 403);
    assert.equal(profile.body.error.code, 'forbidden');
    const provider = await member.post('/provider/create', { name: 'p', data: { kind: 'openai', api_key_env: 'OPENAI_API_KEY' } });
    assert.equal(provider.status, 403);
    // The role is checked before the body: a member learns nothing from a model record's validation.
    for (const path of ['/model/create', '/model/draft', '/model/update', '/model/delete', '/model/generate', '/setting/create']) {
      const refused = await member.post(path, { data: {} });
      assert.equal(refused.status, 403, `${path}: ${refused.text}`);
      assert.equal(refused.body.error.code, 'forbidden');
    }
    assert.equal((await member.post('/persona/create', { data: {} })).status, 400, 'a family members may write still validates');
    const org = await orgA.admin.post('/system/org_create', { name: 'nope', admin_name: 'x', admin_email: 'x@example.edu' });
    assert.equal(org.status, 403, 'only the instance operator creates orgs');
  });

  test('tokens are shown once, stored hashed, and revoked at once', async () => {
    const { profileId, client } = await orgA.addProfile('member');
    const minted = await client.post('/auth/create', { profile_id: profileId, name: 'laptop' });
    assert.equal(minted.status, 200);
    assert.match(minted.body.token, /^glow_/);
    const rows = await harness.database.db.selectFrom('api_tokens').selectAll().where('id', '=', minted.body.id).execute();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.token_hash, minted.body.token);
    assert.ok(!JSON.stringify(rows).includes(minted.body.token), 'the token itself is never stored');

    const record = await client.post('/auth/get', { id: minted.body.id });
    assert.equal(record.status, 200);
    assert.ok(!JSON.stringify(record.body).includes(minted.body.token));
    // The token's label is its record's name: what the record may not hold is refused at the door, and no token is minted.
    const tokensBefore = (await harness.database.db.selectFrom('api_tokens').select('id').where('profile_id', '=', profileId).execute()).length;
    const longLabel = await client.post('/auth/create', { profile_id: profileId, name: 'x'.repeat(101) });
    assert.equal(longLabel.status, 400, longLabel.text);
    assert.match(longLabel.body.error.message, /^name: /);
    assert.equal((await harness.database.db.selectFrom('api_tokens').select('id').where('profile_id', '=', profileId).execute()).length, tokensBefore);
    const longEmail = await orgA.admin.post('/profile/create', { name: 'Long', email: `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.edu`, role: 'member' });
    assert.equal(longEmail.status, 400, longEmail.text);
    assert.match(longEmail.body.error.message, /^email: /);

    const laptop = harness.anonymous.withToken(minted.body.token);
    assert.equal((await laptop.post('/persona/search', {})).status, 200);
    const revoked = await client.post('/auth/delete', { id: minted.body.id });
    assert.deepEqual(revoked.body, { id: minted.body.id, deleted: true });
    assert.equal((await laptop.post('/persona/search', {})).status, 401);

    const someoneElse = await orgA.addProfile('member');
    const forOther = await client.post('/auth/create', { profile_id: someoneElse.profileId });
    assert.equal(forOther.status, 403);
  });

  describe('a token\'s identity, kept for a while by each process (GLOW_TOKEN_CACHE_SECONDS)', () => {
    /** The status of a request with `client` once it is `expected`; gives up after two seconds (far below the 10-s keep time). */
    const statusOnceIt = (client: { post: (path: string, body: unknown) => Promise<{ status: number }> }, expected: number) =>
      eventually(`HTTP ${expected}`, async () => {
        const { status } = await client.post('/persona/search', {});
        return status === expected ? status : undefined;
      }, 2000);

    test('is forgotten when the token is deleted by hand in SQL: the database announces it', async () => {
      const { profileId, client } = await orgA.addProfile('member');
      const minted = await client.post('/auth/create', { profile_id: profileId });
      const holder = harness.anonymous.withToken(minted.body.token);
      assert.equal((await holder.post('/persona/search', {})).status, 200);
      await harness.database.executeSql('DELETE FROM api_tokens WHERE id = $1', [minted.body.id]);
      assert.equal(await statusOnceIt(holder, 401), 401);
    });

    test('is announced for identity changes only: deleting a persona announces nothing, revoking a token does', async () => {
      let heard = 0;
      const stop = await harness.database.listen('glow_identity', () => (heard += 1));
      try {
        const created = await orgA.admin.post('/persona/create', { name: 'Not an identity', data: personaData });
        assert.equal((await orgA.admin.post('/persona/delete', { id: created.body.id })).status, 200);
        const { profileId, client } = await orgA.addProfile('member');
        const minted = await client.post('/auth/create', { profile_id: profileId });
        await new Promise((resolve) => setTimeout(resolve, 200)); // PostgreSQL delivers on its own connection
        assert.equal(heard, 0, 'creating and deleting a persona, and minting a token, change no identity that exists');
        assert.equal((await client.post('/auth/delete', { id: minted.body.id })).status, 200);
        await eventually('the announcement', () => (heard > 0 ? true : undefined), 2000);
        assert.ok(heard >= 1, 'revoking a token is announced');
      } finally {
        await stop();
      }
    });

    test('is used without reading the token again until a change is announced', async () => {
      const { profileId, client } = await orgA.addProfile('member');
      const minted = await client.post('/auth/create', { profile_id: profileId });
      const holder = harness.anonymous.withToken(minted.body.token);
      assert.equal((await holder.post('/persona/search', {})).status, 200);
      // The trigger off inside this one transaction: the row goes without an announcement.
      await harness.database.db.transaction().execute(async (trx) => {
        await harness.database.executeSql(`ALTER TABLE api_tokens DISABLE TRIGGER api_tokens_changed`, [], trx);
        await harness.database.executeSql('DELETE FROM api_tokens WHERE id = $1', [minted.body.id], trx);
        await harness.database.executeSql(`ALTER TABLE api_tokens ENABLE TRIGGER api_tokens_changed`, [], trx);
      });
      assert.equal((await holder.post('/persona/search', {})).status, 200, 'the kept identity answers: the token was not read again');
      await harness.database.executeSql(`SELECT pg_notify('glow_identity', '')`, []);
      assert.equal(await statusOnceIt(holder, 401), 401);
    });

    test('a profile demoted from admin loses admin rights on its next request', async () => {
      const { profileId, client } = await orgA.addProfile('admin');
      assert.equal((await client.post('/profile/search', {})).status, 200);
      const provider = { name: 'p', data: { kind: 'openai', api_key_env: 'OPENAI_API_KEY' } };
      const before = await client.post('/provider/create', provider);
      assert.equal(before.status, 200, before.text);
      const profile = await orgA.admin.post('/profile/get', { id: profileId });
      const demoted = await orgA.admin.post('/profile/update', { id: profileId, data: { ...profile.body.data, role: 'member' } });
      assert.equal(demoted.status, 200, demoted.text);
      assert.equal((await client.post('/provider/create', provider)).status, 403);
    });

    test('an org keeps an admin and the instance its operator; a taken email is 409; a token keeps its profile, and its record goes with it', async () => {
      const org = await harness.newOrg('guards');
      const me = await org.admin.post('/profile/me', {});
      const adminProfile = (await org.admin.post('/profile/get', { id: me.body.profile.id })).body;
      const lastAdmin = await org.admin.post('/profile/update', { id: adminProfile.id, data: { ...adminProfile.data, role: 'member' } });
      assert.equal(lastAdmin.status, 409, lastAdmin.text);
      assert.match(lastAdmin.body.error.message, /last admin/);
      assert.equal((await org.admin.post('/profile/delete', { id: adminProfile.id })).status, 409);
      assert.equal((await org.admin.post('/profile/get', { id: adminProfile.id })).body.data.role, 'admin');

      const operatorMe = await harness.operator.post('/profile/me', {});
      const second = await harness.operator.post('/profile/create', { name: 'Second admin', email: `second-${randomUUID()}@example.edu`, role: 'admin' });
      assert.equal(second.status, 200, second.text);
      const secondToken = await harness.operator.post('/auth/create', { profile_id: second.body.id });
      const secondAdmin = harness.anonymous.withToken(secondToken.body.token);
      const operatorProfile = (await secondAdmin.post('/profile/get', { id: operatorMe.body.profile.id })).body;
      const demoteOperator = await secondAdmin.post('/profile/update', { id: operatorProfile.id, data: { ...operatorProfile.data, role: 'member' } });
      assert.equal(demoteOperator.status, 409, demoteOperator.text);
      assert.match(demoteOperator.body.error.message, /instance operator/);
      assert.equal((await secondAdmin.post('/profile/delete', { id: operatorProfile.id })).status, 409);
      // Renaming is no demotion.
      assert.equal((await secondAdmin.post('/profile/update', { id: operatorProfile.id, description: 'runs the instance' })).status, 200);

      const { profileId: memberId } = await org.addProfile('member', 'Taken email');
      const member = (await org.admin.post('/profile/get', { id: memberId })).body;
      const taken = await org.admin.post('/profile/update', { id: memberId, data: { ...member.data, email: adminProfile.data.email.toUpperCase() } });
      assert.equal(taken.status, 409, taken.text);
      assert.equal(taken.body.error.details.field, 'data.email');
      // Listed as validation errors list theirs, so a client reads every field error from one place.
      assert.deepEqual(taken.body.error.details.fields, [{ path: 'data.email', message: 'another profile of this org already has this email' }]);

      const minted = await org.admin.post('/auth/create', { profile_id: memberId, name: 'laptop' });
      const record = (await org.admin.post('/auth/get', { id: minted.body.id })).body;
      assert.deepEqual(record.data, { profile_id: memberId, name: 'laptop' });
      const moved = await org.admin.post('/auth/update', { id: record.id, data: { ...record.data, profile_id: adminProfile.id } });
      assert.equal(moved.status, 400, moved.text);
      assert.match(moved.body.error.message, /data.profile_id: is kept as it was/);
      const relabelled = await org.admin.post('/auth/update', { id: record.id, data: { ...record.data, name: 'old laptop' } });
      assert.equal(relabelled.status, 200);
      assert.equal(relabelled.body.name, 'old laptop', 'a token record has one name: data.name is it');
      // A profile's name, too, written in either place.
      const renamed = await org.admin.post('/profile/update', { id: memberId, name: 'Mia Renamed' });
      assert.deepEqual([renamed.body.name, renamed.body.data.name], ['Mia Renamed', 'Mia Renamed']);
      const viaData = await org.admin.post('/profile/update', { id: memberId, data: { ...renamed.body.data, name: 'Mia Again' } });
      assert.deepEqual([viaData.body.name, viaData.body.data.name], ['Mia Again', 'Mia Again']);
      assert.equal((await org.admin.post('/profile/update', { id: memberId, name: 'A', data: { ...viaData.body.data, name: 'B' } })).status, 400);
      assert.equal((await org.admin.post('/auth/update', { id: record.id, data: { ...record.data, revoked: true } })).status, 400);

      assert.equal((await org.admin.post('/profile/delete', { id: memberId })).status, 200);
      assert.equal((await org.admin.post('/auth/get', { id: record.id })).status, 404, 'the token record went with its profile');
      assert.equal((await harness.anonymous.withToken(minted.body.token).post('/persona/search', {})).status, 401);
    });

    test('the server that revokes a token or demotes a profile forgets it as it commits, announcement or not', async () => {
      const announcements = ['api_tokens api_tokens_changed', 'artifacts identity_records_updated', 'artifacts identity_records_deleted'];
      const setAnnouncements = async (state: 'ENABLE' | 'DISABLE') => {
        for (const entry of announcements) {
          const [table, trigger] = entry.split(' ');
          await harness.database.executeSql(`ALTER TABLE ${table} ${state} TRIGGER ${trigger}`);
        }
      };
      const { profileId, client } = await orgA.addProfile('admin');
      const minted = await client.post('/auth/create', { profile_id: profileId });
      const laptop = harness.anonymous.withToken(minted.body.token);
      assert.equal((await laptop.post('/persona/search', {})).status, 200);
      const provider = { name: 'p', data: { kind: 'openai', api_key_env: 'OPENAI_API_KEY' } };
      assert.equal((await client.post('/provider/create', provider)).status, 200);
      await setAnnouncements('DISABLE');
      try {
        assert.equal((await client.post('/auth/delete', { id: minted.body.id })).status, 200);
        assert.equal((await laptop.post('/persona/search', {})).status, 401);
        assert.equal((await client.post('/profile/search', {})).status, 200, 'the admin is read again, and kept');
        const profile = await orgA.admin.post('/profile/get', { id: profileId });
        assert.equal((await orgA.admin.post('/profile/update', { id: profileId, data: { ...profile.body.data, role: 'member' } })).status, 200);
        assert.equal((await client.post('/provider/create', provider)).status, 403);
      } finally {
        await setAnnouncements('ENABLE');
      }
    });

    test('a lost listening connection is restored: what changed while it was down, and after, is seen', async (context) => {
      if (harness.backend !== 'postgres') return context.skip('needs PostgreSQL: PGlite has no connection to lose');
      const listening = async () =>
        (await harness.database.executeSql(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, [LISTEN_APPLICATION_NAME])).rows.map(
          (row) => row.pid as number,
        );
      const mint = async () => {
        const { profileId, client } = await orgA.addProfile('member');
        const minted = await client.post('/auth/create', { profile_id: profileId });
        const holder = harness.anonymous.withToken(minted.body.token);
        assert.equal((await holder.post('/persona/search', {})).status, 200);
        return { id: minted.body.id as string, holder };
      };
      const [before] = await listening();
      assert.ok(before, 'the server listens on a connection of its own');

      const duringOutage = await mint();
      await harness.database.executeSql('SELECT pg_terminate_backend($1)', [before]);
      await harness.database.executeSql('DELETE FROM api_tokens WHERE id = $1', [duringOutage.id]);
      assert.equal(await statusOnceIt(duringOutage.holder, 401), 401, 'a change announced while the connection was down');

      await eventually('a new listening connection', async () => ((await listening()).some((pid) => pid !== before) ? true : undefined), 5000);
      const afterwards = await mint();
      await harness.database.executeSql('DELETE FROM api_tokens WHERE id = $1', [afterwards.id]);
      assert.equal(await statusOnceIt(afterwards.holder, 401), 401, 'a change announced on the restored connection');
    });

    test('a token revoked through one server is refused by another on the same database', async (context) => {
      if (harness.backend !== 'postgres') return context.skip('needs PostgreSQL: PGlite is one process');
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-second-'));
      const second = await startServer({ GLOW_DATA_DIR: dataDir, DATABASE_URL: harness.config.DATABASE_URL, GLOW_WORKERS: 0 });
      try {
        const { profileId, client } = await orgA.addProfile('member');
        const minted = await client.post('/auth/create', { profile_id: profileId });
        const elsewhere = new ApiClient(second.baseUrl, minted.body.token);
        assert.equal((await elsewhere.post('/persona/search', {})).status, 200);
        assert.equal((await client.post('/auth/delete', { id: minted.body.id })).status, 200);
        assert.equal(await statusOnceIt(elsewhere, 401), 401);
      } finally {
        await second.app.close();
        await second.database.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  test('every write is in the audit log: who, what, when', async () => {
    const created = await orgA.admin.post('/persona/create', { name: 'Audited', data: personaData });
    await orgA.admin.post('/persona/update', { id: created.body.id, description: 'changed' });
    await orgA.admin.post('/persona/delete', { id: created.body.id });
    const rows = await harness.database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('artifact_id', '=', created.body.id)
      .orderBy('id')
      .execute();
    assert.deepEqual(rows.map((row) => row.action), ['persona.create', 'persona.update', 'persona.delete']);
    for (const row of rows) {
      assert.equal(row.profile_id, orgA.adminProfileId);
      assert.equal(row.org_id, orgA.orgId);
      assert.ok(row.session_id);
      assert.ok(row.created_at instanceof Date);
    }
  });

  test('unknown routes are a JSON 404', async () => {
    const response = await orgA.admin.post('/persona/explode', {});
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'not_found');
  });

  test('GET /openapi.json is a valid OpenAPI 3.1 document listing every route', async () => {
    const response = await harness.anonymous.get('/openapi.json');
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(response.body);
    assert.equal(result.valid, true, JSON.stringify(result.errors)?.slice(0, 2000));
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries<Record<string, unknown>>(response.body.paths)) {
      for (const method of Object.keys(methods)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const routed = harness.app.operations.map((operation) => `${operation.method} ${operation.path}`);
    assert.deepEqual([...documented].sort(), [...new Set(routed)].sort());
    for (const type of ['agent', 'attempt', 'cohort', 'persona', 'rubric', 'scenario', 'tool']) {
      for (const op of ['create', 'draft', 'update', 'get', 'search', 'delete']) assert.ok(documented.has(`POST /${type}/${op}`), `${type}/${op}`);
    }
    // Downloads document their partial and not-modified answers and the headers that ask for them.
    const download = response.body.paths['/system/audio_download'].post;
    assert.deepEqual(Object.keys(download.responses).sort(), ['200', '206', '304', '400', '401', '404', '416']);
    assert.ok(download.responses['206'].content['application/octet-stream']);
    assert.deepEqual(download.parameters.map((parameter: any) => `${parameter.in}:${parameter.name}`), ['header:Range', 'header:If-Range', 'header:If-None-Match']);
    const watch = response.body.paths['/persona/watch'].get;
    assert.ok(watch.responses['204']);
    assert.ok(watch.parameters.some((parameter: any) => parameter.in === 'header' && parameter.name === 'Last-Event-ID'));
    // A role that cannot write a family is told so before its body is read (403 documented).
    assert.ok(response.body.paths['/model/create'].post.responses['403']);
  });

  describe('embedded database maintenance (PGlite has no autovacuum)', () => {
    const vacuumedAt = async (table: string) => {
      const { rows } = await harness.database.executeSql(
        `SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE format('%I.%I', schemaname, relname) = $1`,
        [table],
      );
      return rows[0] as { last_vacuum: Date | null; last_analyze: Date | null } | undefined;
    };

    test('every Glow and pg-boss table is vacuumed and analyzed', async (context) => {
      if (harness.backend !== 'pglite') return context.skip('PostgreSQL runs autovacuum itself');
      const before = new Date();
      const org = await harness.newOrg('vacuum');
      const created = await org.admin.post('/persona/create', { name: 'Vacuumed', data: personaData });
      assert.equal(created.status, 200, created.text);
      // Each table's VACUUM waits for its turn (the server's: a burst of requests answered).
      let turns = 0;
      const tables = await vacuumTables(harness.database, { beforeEachTable: async () => void (turns += 1) });
      assert.equal(turns, tables.length, 'one wait before each table');
      for (const table of ['public.artifacts', 'public.generation_runs', 'public.generation_events', 'public.uploads', 'pgboss.queue']) {
        assert.ok(tables.includes(table), `${table} was not vacuumed (done: ${tables.join(', ')})`);
        const stats = await vacuumedAt(table);
        assert.ok(stats?.last_vacuum && new Date(stats.last_vacuum) >= before, `${table}: last_vacuum ${stats?.last_vacuum}`);
        assert.ok(stats?.last_analyze && new Date(stats.last_analyze) >= before, `${table}: last_analyze ${stats?.last_analyze}`);
      }
      assert.ok(tables.some((table) => table.startsWith('pgboss.j')), 'the job partitions were not vacuumed');
    });

    test('the server vacuums on its schedule (GLOW_PGLITE_VACUUM_MINUTES) and stops cleanly', async (context) => {
      if (harness.backend !== 'pglite') return context.skip('PostgreSQL runs autovacuum itself');
      // PGlite belongs to one process: this server gets its own data folder.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-vacuum-'));
      const { app, database } = await startServer({ GLOW_DATA_DIR: dataDir, GLOW_PGLITE_VACUUM_MINUTES: 0.002 });
      try {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const { rows } = await database.executeSql(`SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'generation_groups'`, []);
          if (rows[0]?.last_vacuum) break;
          assert.ok(Date.now() < deadline, 'no scheduled vacuum within 20 s');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await app.close();
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
