// The web console: served pages, then the console itself in Debian's chromium through
// playwright-core, against the real server of this backend. Registers its tests when imported.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page, type Route } from 'playwright-core';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { ARTIFACT_TYPES } from '../../src/artifacts/types.ts';
import { noisePng, tinyPdf } from '../fixtures/media-files.ts';
import { configureFakeModels } from '../support/fake-models.ts';
import { startFakeProvider } from '../support/fake-provider.ts';
import { getHarness, type Harness, type TestOrg } from '../support/harness.ts';

/** Debian's chromium (apt-get install chromium); GLOW_CHROMIUM names another. */
const CHROMIUM = process.env.GLOW_CHROMIUM ?? '/usr/bin/chromium';

describe('web console', () => {
  let harness: Harness;
  let org: TestOrg;
  let browser: Browser | undefined;

  before(async () => {
    harness = await getHarness();
    org = await harness.newOrg('console');
    if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
  });

  test('/ leads to the console, served with a strict CSP; its catalogue is the 20 families', async () => {
    const root = await fetch(`${harness.baseUrl}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
    const page = await fetch(`${harness.baseUrl}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'.*connect-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/console\/app.js">/);
    const script = await fetch(`${harness.baseUrl}/console/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok((await script.text()).length > 1000);
    const catalog = await harness.anonymous.get('/console/catalog.json');
    assert.equal(catalog.status, 200);
    assert.deepEqual(
      catalog.body.families.map((family: { type: string; plural: string }) => [family.type, family.plural]),
      ARTIFACT_TYPES.map((type) => [type, FAMILIES[type].plural]),
    );
    assert.deepEqual(catalog.body.families.find((family: { type: string }) => family.type === 'persona').example, FAMILIES.persona.example);
  });

  /** A model on the fake provider answering each call after `delayMs` (a run still going while the page acts); closed after the test. */
  const slowFakeModel = async (context: { after(hook: () => Promise<void>): void }, modelName: string, delayMs: number): Promise<string[]> => {
    const fake = await startFakeProvider();
    const apiKeyEnv = `GLOW_TEST_CONSOLE_${modelName.replace(/\W/g, '_').toUpperCase()}_KEY_${process.pid}`;
    process.env[apiKeyEnv] = 'fake-key';
    context.after(async () => {
      await fake.close();
      delete process.env[apiKeyEnv];
    });
    const { modelIds } = await configureFakeModels(org.admin, fake.url, apiKeyEnv, [{ purpose: 'text', modelName }]);
    fake.setDefault({ delayMs, then: { artifact: 'example' } });
    return modelIds;
  };

  describe('in a browser', () => {
    /** A new page (or a skip without chromium); with `token`, signed in with it. */
    const open = async (context: { skip(message: string): void; after(hook: () => void): void }, token?: string): Promise<Page | undefined> => {
      if (!browser) {
        const missing = `no chromium at ${CHROMIUM} (apt-get install chromium, or set GLOW_CHROMIUM)`;
        // CI sets GLOW_REQUIRE_CHROMIUM: there these tests must run, not report themselves skipped.
        assert.ok(!process.env.GLOW_REQUIRE_CHROMIUM, missing);
        context.skip(missing);
        return undefined;
      }
      const page = await browser.newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      context.after(() => assert.deepEqual(failures, [], 'the page threw'));
      if (token) await signIn(page, token);
      return page;
    };

    /** A published text simulation with a voiceless persona "Maya", at most 2 turns, made by the org's admin. */
    const createSimulation = async (rules: Record<string, unknown> = {}): Promise<string> => {
      const { voice: _voice, ...silent } = FAMILIES.persona.example as Record<string, unknown>;
      const persona = await org.admin.post('/persona/create', { name: 'Maya', data: silent });
      const scenarioData = structuredClone(FAMILIES.scenario.example) as Record<string, unknown>;
      delete scenarioData.image_upload_ids;
      delete scenarioData.video_upload_ids;
      const scenario = await org.admin.post('/scenario/create', { name: 'Office hours', data: scenarioData });
      const simulation = await org.admin.post('/simulation/create', {
        name: 'Catch-up talk',
        data: { persona_id: persona.body.id, scenario_id: scenario.body.id, modality: 'text', max_turns: 2, ...rules },
      });
      assert.equal(simulation.status, 200, simulation.text);
      return simulation.body.id;
    };

    /** Signs in through the form; unless the token is expected to fail, waits for the families. */
    const signIn = async (page: Page, token: string, { refused = false } = {}) => {
      await page.goto(`${harness.baseUrl}/`);
      await page.fill('input[name=token]', token);
      await page.click('button[type=submit]');
      if (!refused) await page.waitForSelector('.cards');
    };

    test('a wrong token is refused in words; the right one opens the families', async (context) => {
      const page = await open(context);
      if (!page) return;
      await signIn(page, 'not-a-token', { refused: true });
      await page.waitForSelector('p.error:not([hidden])');
      assert.match(await page.textContent('p.error') ?? '', /not accepted/);
      await page.fill('input[name=token]', org.admin.token!);
      await page.click('button[type=submit]');
      await page.waitForSelector('.cards');
      assert.equal(await page.locator('.cards .card').count(), 20);
      assert.equal(await page.locator('nav a').count(), 20);
      await page.close();
    });

    test('generate a persona: progress, saved and complete arrive live, the persona is saved, and the page says the offline generator made it', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/persona/generate`);
      await page.fill('textarea[name=instructions]', 'A passive student who starts every reply with Uh...');
      await page.fill('input[name=count]', '2');
      await page.click('button[type=submit]');
      await page.waitForSelector('p.success', { timeout: 30_000 });
      const frames = await page.$$eval('.frames li', (items) => items.map((item) => ({ type: (item as HTMLElement).dataset.type, id: Number((item as HTMLElement).dataset.id) })));
      assert.deepEqual(
        frames.map((frame) => frame.type),
        ['GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationProgressEvent', 'GenerationSavedEvent', 'GenerationCompleteEvent'],
      );
      assert.match(await page.textContent('p.notice') ?? '', /offline generator/);

      const saved = await page.$$eval('.frames li[data-type=GenerationSavedEvent] a', (links) => links.map((link) => (link as HTMLAnchorElement).hash));
      const search = await org.admin.post('/persona/search', { search: 'Passive Student' });
      assert.equal(search.status, 200);
      assert.deepEqual(saved.map((hash) => hash.split('/').pop()).sort(), search.body.items.map((item: { id: string }) => item.id).sort());

      // The saved persona opens from the frame's link; its group shows the run as the offline model's.
      await page.click('.frames li[data-type=GenerationSavedEvent] a');
      await page.waitForSelector('.data-editor');
      assert.match(await page.inputValue('input[name=name]'), /Passive Student/);
      await page.goto(`${harness.baseUrl}/console/#/persona/generations?search=passive`);
      await page.waitForSelector('table a');
      await page.click('table a');
      await page.waitForSelector('.message.assistant');
      assert.match(await page.textContent('section.card') ?? '', /Model offline \(the built-in generator, not AI output\)/);
      assert.equal(await page.locator('.message.assistant').count(), 2);
      await page.close();
    });

    test("an admin's generations say whose group each is; a member's, all their own, do not", async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const marker = `Owner-${randomUUID().slice(0, 8)}`;
      const member = await org.addProfile('member', 'Morgan Member');
      for (const client of [member.client, org.admin]) {
        const triggered = await client.post('/persona/generate', { instructions: [`${marker} a student who mumbles`] });
        assert.equal(triggered.status, 200, triggered.text);
      }
      await page.goto(`${harness.baseUrl}/console/#/persona/generations?search=${marker}`);
      await page.waitForSelector('table tbody tr');
      assert.deepEqual(await page.$$eval('table thead th', (cells) => cells.map((cell) => cell.textContent)), ['Group', 'Owner', 'Started']);
      const owners = await page.$$eval('table tbody tr td:nth-child(2) a', (links) => links.map((link) => [link.textContent, (link as HTMLAnchorElement).hash]));
      // The admin's run may join the admin's open group, older than the member's: order is not asserted.
      assert.deepEqual(owners.map(([name]) => name).sort(), ['Morgan Member', 'you']);
      assert.equal(owners.find(([name]) => name === 'Morgan Member')![1], `#/profile/id/${member.profileId}`);
      await page.close();

      const memberPage = await open(context, member.token);
      if (!memberPage) return;
      await memberPage.goto(`${harness.baseUrl}/console/#/persona/generations?search=${marker}`);
      await memberPage.waitForSelector('table tbody tr');
      assert.deepEqual(await memberPage.$$eval('table thead th', (cells) => cells.map((cell) => cell.textContent)), ['Group', 'Started']);
      assert.equal(await memberPage.locator('table tbody tr').count(), 1);
      await memberPage.close();
    });

    test('a stream dropped in the middle of a run resumes after the last event shown: no frame twice, none missing', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      // A slow model (the fake provider, 700 ms per answer), so the run is still going when the page comes back.
      const modelIds = await slowFakeModel(context, 'slow-1', 700);
      const reconnections: { lastEventId: string | undefined; runStatus: string }[] = [];
      let first = true;
      let cutFailed: unknown;
      await page.route('**/rubric/watch?*', (route) =>
        cut(route).catch((error: unknown) => {
          // Reported below, once the page went on (an unanswered route would leave it waiting).
          cutFailed = error;
          return route.abort().catch(() => undefined);
        }),
      );
      const cut = async (route: Route) => {
        const request = route.request();
        // allHeaders, not headers: the latter may leave out security-related ones such as authorization.
        const headers = await request.allHeaders();
        const runId = new URL(request.url()).searchParams.get('run_id')!;
        const run = await harness.database.db.selectFrom('generation_runs').select('status').where('id', '=', runId).executeTakeFirst();
        reconnections.push({ lastEventId: headers['last-event-id'], runStatus: run?.status ?? 'not yet' });
        if (!first) return route.continue();
        first = false;
        // The first connection is cut right after its first frame, as a flaky network would.
        // Only the headers the watch needs: the browser's own list may hold some (connection, host) that fetch refuses.
        const upstream = new AbortController();
        const response = await fetch(request.url(), { headers: { authorization: headers.authorization!, accept: 'text/event-stream' }, signal: upstream.signal });
        assert.equal(response.status, 200);
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        let received = '';
        for (;;) {
          const { done, value } = await reader.read();
          received += value ?? '';
          if (done || /data:.*\n\n/.test(received)) break;
        }
        upstream.abort();
        // A keep-alive comment may come first: the process's one keep-alive timer can tick just as the stream opens.
        const frames = received.replace(/^(?::[^\n]*\n\n)+/, '');
        assert.match(frames, /^id: \d+\ndata: /, 'the first frame came before the cut');
        await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: frames.slice(0, frames.indexOf('\n\n') + 2) });
      };
      await page.goto(`${harness.baseUrl}/console/#/rubric/generate`);
      await page.fill('textarea[name=instructions]', 'A rubric for active listening');
      await page.fill('input[name=count]', '3');
      await page.fill('input[name=model_id]', modelIds[0]!);
      await page.click('button[type=submit]');
      await page.waitForSelector('p.success', { timeout: 30_000 });
      assert.equal(cutFailed, undefined, `cutting the first connection failed: ${String(cutFailed)}`);
      const ids = await page.$$eval('.frames li', (items) => items.map((item) => Number((item as HTMLElement).dataset.id)));
      assert.equal(ids.length, 7, `frames: ${ids.join(', ')}`);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'in order');
      assert.equal(new Set(ids).size, ids.length, 'none twice');
      assert.equal(reconnections.length, 2, JSON.stringify(reconnections));
      assert.equal(reconnections[0]!.lastEventId, undefined);
      assert.deepEqual(reconnections[1], { lastEventId: String(ids[0]), runStatus: 'running' }, 'resumed while the run was still going');
      await page.close();
    });

    test('practise a simulation: each turn is sent, the persona\'s reply streams in, and the transcript is there after a reload', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const simulationId = await createSimulation();
      await page.goto(`${harness.baseUrl}/console/#/simulation/id/${simulationId}`);
      await page.click('text=Practise this simulation');
      await page.waitForSelector('textarea[name=text]');
      assert.match(await page.textContent('h2') ?? '', /Practice with Maya/);
      const attemptId = new URL(page.url()).hash.split('/').pop()!;

      // Before the first turn: the brief, from the scenario and simulation, and the persona's opening line as their first turn (not a stored message).
      const scenarioExample = FAMILIES.scenario.example as Record<string, unknown>;
      assert.equal(await page.textContent('.brief h3'), 'Your brief: Office hours');
      assert.equal(await page.textContent('.brief [data-brief=context] p'), scenarioExample.context);
      assert.equal(await page.textContent('.brief [data-brief=goal] dd'), scenarioExample.learner_goal);
      assert.equal(await page.textContent('.brief [data-brief=role] dd'), scenarioExample.learner_role);
      assert.match(await page.textContent('.brief [data-brief=limits] dd') ?? '', /up to 2 turns/i);
      assert.equal(await page.locator('.brief [data-brief=instructions]').count(), 0, 'the simulation has no learner instructions: none shown');
      assert.equal(await page.textContent('.conversation .message[data-role=opening] .text'), (FAMILIES.persona.example as Record<string, unknown>).opening_line);
      assert.equal(await page.locator('.conversation .message.assistant').count(), 0);
      // At 400 px the page does not overflow sideways.
      await page.setViewportSize({ width: 400, height: 800 });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), 'no sideways scrolling at 400 px');
      await page.setViewportSize({ width: 1280, height: 800 });

      for (const [turn, said] of ['Hi Maya, thanks for coming in.', 'What got in the way this term?'].entries()) {
        await page.fill('textarea[name=text]', said);
        await page.click('button[type=submit]');
        // The page marks the conversation busy from sending the turn until the reply has ended, and adds the reply's bubble in between.
        await page.waitForFunction((count) => document.querySelector('.conversation')!.getAttribute('aria-busy') === 'false' && document.querySelectorAll('.message.assistant').length === count, turn + 1, {
          timeout: 30_000,
        });
        assert.match(await page.textContent('.message.assistant:last-child .text') ?? '', new RegExp(said.replace(/[.?]/g, '\\$&')));
      }
      // The second turn reached max_turns: the attempt ended, and the page says so.
      assert.match(await page.textContent('p.notice') ?? '', /has ended/);
      assert.equal(await page.getAttribute('p.notice a', 'href'), `#/simulation/id/${simulationId}`);
      const attempt = await org.admin.post('/attempt/get', { id: attemptId });
      assert.equal(attempt.body.data.state, 'completed');
      const group = await org.admin.post('/attempt/group', { group_id: attempt.body.data.group_id, include_detail: true });
      const stored = group.body.runs.flatMap((run: { messages: { role: string; text: string }[] }) => run.messages.filter((message) => message.role !== 'system'));

      await page.reload();
      await page.waitForSelector('.conversation .message');
      const shown = await page.$$eval('.conversation .message', (items) => items.map((item) => [(item as HTMLElement).dataset.role, item.querySelector('.text')!.textContent]));
      assert.deepEqual(shown, stored.map((message: { role: string; text: string }) => [message.role, message.text]));
      assert.equal(shown.length, 4);
      await page.close();
    });

    test('practise: "End attempt" ends the attempt before its turns run out, and the page says so', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const started = await org.admin.post('/attempt/start', { simulation_id: await createSimulation() });
      assert.equal(started.status, 200, started.text);
      await page.goto(`${harness.baseUrl}/console/#/attempt/practice/${started.body.id}`);
      await page.waitForSelector('textarea[name=text]');
      await page.click('button:text-is("End attempt")');
      await page.waitForSelector('p.notice');
      assert.match(await page.textContent('p.notice') ?? '', /has ended/);
      assert.equal(await page.isDisabled('textarea[name=text]'), true);
      assert.equal(await page.isDisabled('button:text-is("End attempt")'), true);
      const attempt = await org.admin.post('/attempt/get', { id: started.body.id });
      assert.equal(attempt.body.data.state, 'completed');
      assert.equal(attempt.body.data.turn_count, 0);
      await page.close();
    });

    test('practise: a turn refused because the attempt ended meanwhile (its time ran out) closes the page, with the reason', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const started = await org.admin.post('/attempt/start', { simulation_id: await createSimulation({ time_limit_minutes: 1 }) });
      assert.equal(started.status, 200, started.text);
      await page.goto(`${harness.baseUrl}/console/#/attempt/practice/${started.body.id}`);
      await page.waitForSelector('textarea[name=text]');
      // The learner walked away: the limit passes while the page is open.
      const row = await harness.database.db.selectFrom('artifacts').select('data').where('id', '=', started.body.id).executeTakeFirstOrThrow();
      await harness.database.db.updateTable('artifacts').set({ data: JSON.stringify({ ...(row.data as object), started_at: new Date(Date.now() - 2 * 60_000).toISOString() }) }).where('id', '=', started.body.id).execute();
      await page.fill('textarea[name=text]', 'Sorry, I was away.');
      await page.click('button[type=submit]');
      await page.waitForSelector('p.notice');
      // (The server's own once-a-minute sweep may end it first: then the turn finds it completed.)
      assert.match(await page.textContent('.error[role=alert]') ?? '', /time limit of 1 minute|is completed/);
      assert.match(await page.textContent('p.notice') ?? '', /has ended/);
      assert.equal(await page.isDisabled('button[type=submit]'), true);
      assert.equal(await page.isDisabled('button:text-is("End attempt")'), true);
      await page.close();
    });

    test('files: an image uploaded through the page is stored byte for byte and shown; bytes that are not what they claim are refused and leave no row', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const png = await noisePng(120, 80, 7);
      await page.goto(`${harness.baseUrl}/console/#/scenario/files`);
      await page.selectOption('select[name=kind]', 'image');
      await page.setInputFiles('input[name=file]', { name: 'office.png', mimeType: 'image/png', buffer: png });
      await page.fill('input[name=name]', 'Office');
      await page.click('button.primary');
      const card = await page.waitForSelector('[data-upload-id]');
      const uploadId = (await card.getAttribute('data-upload-id'))!;
      const row = await harness.database.db.selectFrom('uploads').selectAll().where('id', '=', uploadId).executeTakeFirstOrThrow();
      assert.equal(Number(row.size), png.length);
      assert.equal(row.filename, 'office.png');
      assert.equal(row.sha256, createHash('sha256').update(png).digest('hex'));
      await page.click('[data-upload-id] button:has-text("Show")');
      await page.waitForFunction(() => (document.querySelector('[data-upload-id] .media img') as HTMLImageElement | null)?.naturalWidth === 120);
      assert.equal(await page.getAttribute('[data-upload-id] .media img', 'alt'), 'Office');
      // Downloaded under the server's file name (Content-Disposition), not the upload's id.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-upload-id] button:has-text("Download")')]);
      assert.equal(download.suggestedFilename(), 'office.png');

      const countBefore = await harness.database.db.selectFrom('uploads').select((eb) => eb.fn.countAll<string>().as('n')).where('org_id', '=', org.orgId).executeTakeFirstOrThrow();
      await page.setInputFiles('input[name=file]', { name: 'not-really.png', mimeType: 'image/png', buffer: tinyPdf() });
      await page.click('button.primary');
      await page.waitForSelector('[role=alert]');
      assert.match(await page.textContent('[role=alert]') ?? '', /image\/png/);
      const countAfter = await harness.database.db.selectFrom('uploads').select((eb) => eb.fn.countAll<string>().as('n')).where('org_id', '=', org.orgId).executeTakeFirstOrThrow();
      assert.equal(Number(countAfter.n), Number(countBefore.n));
      await page.close();
    });

    test('an admin adds a person and their token in the page; the token is shown once and signs them in as a member, who is offered only what members may do', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      assert.match(await page.textContent('#who') ?? '', /\(admin\)/);
      await page.goto(`${harness.baseUrl}/console/#/profile/new`);
      await page.fill('input[name=name]', 'Lena Learner');
      await page.fill('input[name=email]', `lena-${org.orgId.slice(0, 8)}@example.edu`);
      await page.click('button[type=submit]');
      await page.waitForSelector('.data-editor');
      const profileId = new URL(page.url()).hash.split('/').pop()!;
      const profile = await org.admin.post('/profile/get', { id: profileId });
      assert.equal(profile.body.data.role, 'member');

      await page.goto(`${harness.baseUrl}/console/#/auth/new`);
      await page.selectOption('select[name=profile_id]', profileId);
      await page.fill('input[name=name]', 'classroom laptop');
      await page.click('button[type=submit]');
      const token = (await (await page.waitForSelector('code.token')).textContent())!;
      const tokenId = (await page.getAttribute('[data-token-id]', 'data-token-id'))!;
      const stored = await harness.database.db.selectFrom('api_tokens').select(['profile_id']).where('id', '=', tokenId).executeTakeFirstOrThrow();
      assert.equal(stored.profile_id, profileId);

      // Signed in with it: a member, offered no New for admin-only families and no generation of them.
      await page.click('#who button');
      await signIn(page, token);
      assert.match(await page.textContent('#who') ?? '', /Lena Learner \(member\)/);
      // Hash navigation keeps the previous view until the new one has its data: wait for the new one's own heading.
      await page.goto(`${harness.baseUrl}/console/#/model`);
      await page.waitForSelector('#main h1:text-is("models")');
      assert.equal(await page.locator('a:has-text("New")').count(), 0);
      await page.goto(`${harness.baseUrl}/console/#/model/generate`);
      await page.waitForSelector('p.notice');
      assert.equal(await page.locator('textarea[name=instructions]').count(), 0);
      await page.goto(`${harness.baseUrl}/console/#/persona`);
      await page.waitForSelector('#main h1:text-is("personas")');
      assert.equal(await page.locator('a:has-text("New")').count(), 1);
      assert.equal(await page.locator('a:has-text("Generate")').count(), 1);
      await page.goto(`${harness.baseUrl}/console/#/setting`);
      await page.waitForSelector('#main h1:text-is("settings")');
      assert.equal(await page.locator('a:has-text("Generate")').count(), 0, 'members may not generate settings');

      // Another's record is shown, not offered for editing: the form's fields are read-only, with nothing to add, remove or save.
      const adminRubric = await org.admin.post('/rubric/create', { name: 'Admin rubric', data: FAMILIES.rubric.example });
      await page.goto(`${harness.baseUrl}/console/#/rubric/id/${adminRubric.body.id}`);
      await page.waitForSelector('.data-editor input[name="data.criteria[0].name"]');
      assert.equal(await page.getAttribute('input[name="data.criteria[0].name"]', 'readonly'), '');
      assert.equal(await page.locator('.data-editor button:not(.tab), #main button.primary').count(), 0);

      // A member mints a token for themselves, and only for themselves.
      await page.goto(`${harness.baseUrl}/console/#/auth/new`);
      await page.waitForSelector('select[name=profile_id]');
      assert.deepEqual(await page.$$eval('select[name=profile_id] option', (options) => options.map((option) => (option as HTMLOptionElement).value)), [profileId]);
      await page.click('button[type=submit]');
      await page.waitForSelector('code.token');

      // Another learner's conversation is not theirs to read or continue.
      const adminAttempt = await org.admin.post('/attempt/start', { simulation_id: await createSimulation() });
      await page.goto(`${harness.baseUrl}/console/#/attempt/practice/${adminAttempt.body.id}`);
      await page.waitForSelector('p.notice');
      assert.match(await page.textContent('p.notice') ?? '', /learner's own/);
      assert.equal(await page.locator('textarea[name=text]').count(), 0);

      // Revoked while signed in: the next request signs the page out and says why.
      assert.equal((await org.admin.post('/auth/delete', { id: tokenId })).status, 200);
      await page.goto(`${harness.baseUrl}/console/#/rubric`);
      await page.waitForSelector('p.error:not([hidden])');
      assert.match(await page.textContent('p.error') ?? '', /no longer valid/);
      assert.equal(await page.locator('input[name=token]').count(), 1);
      await page.close();
    });

    test('a new record starts from the example without placeholder references: a scenario is created as it stands; a simulation names the ids to fill', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/scenario/new`);
      await page.fill('input[name=name]', 'Untouched example');
      await page.click('button.primary');
      await page.waitForSelector('.badge.published');
      const scenarioId = new URL(page.url()).hash.split('/').pop()!;
      const stored = await org.admin.post('/scenario/get', { id: scenarioId });
      const { image_upload_ids: _images, video_upload_ids: _videos, ...exampleWithoutUploads } = FAMILIES.scenario.example as Record<string, unknown>;
      assert.deepEqual(stored.body.data, exampleWithoutUploads);
      // As JSON, keys are shown in the example's order, not the database's.
      await page.click('.tabs button:text-is("JSON")');
      assert.deepEqual(Object.keys(JSON.parse(await page.inputValue('textarea[name=data]'))), Object.keys(exampleWithoutUploads));

      await page.goto(`${harness.baseUrl}/console/#/simulation/new`);
      await page.waitForSelector('h2:text-is("New simulation")');
      assert.equal(await page.inputValue('input[name="data.persona_id"]'), '');
      assert.match(await page.textContent('.field[data-path="data.persona_id"]') ?? '', /The id of a persona of your org/);
      assert.match(await page.textContent('main') ?? '', /Fill in the ids of records of your org: persona_id \(a persona\), scenario_id \(a scenario\)/);
      await page.close();
    });

    test('invalid data is refused with each bad field named, and nothing is created', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const before = await org.admin.post('/persona/search', {});
      await page.goto(`${harness.baseUrl}/console/#/persona/new`);
      await page.fill('input[name=name]', 'Too intense');
      // A field the schema does not know can only be written as JSON.
      await page.click('.tabs button:text-is("JSON")');
      await page.fill('textarea[name=data]', JSON.stringify({ ...FAMILIES.persona.example, intensity: 11, mood: 'grumpy' }));
      await page.click('button.primary');
      await page.waitForSelector('[role=alert]');
      const alert = await page.textContent('[role=alert]') ?? '';
      assert.match(alert, /data\.intensity/);
      assert.match(alert, /data\.mood is not a known field/);
      const afterwards = await org.admin.post('/persona/search', {});
      assert.equal(afterwards.body.total_count, before.body.total_count);
      // The form will not draw a field it does not know: the data stays JSON, and the page says why.
      await page.click('.tabs button:text-is("Form")');
      assert.match(await page.textContent('.data-editor p.notice') ?? '', /keep editing it as JSON/);
      assert.equal(await page.locator('textarea[name=data]').count(), 1);

      // Fixed in the page, it is created and published, and listed.
      await page.fill('textarea[name=data]', JSON.stringify(FAMILIES.persona.example));
      await page.click('button.primary');
      await page.waitForSelector('.badge.published');
      await page.goto(`${harness.baseUrl}/console/#/persona?search=${encodeURIComponent('Too intense')}`);
      await page.waitForSelector('table a');
      assert.equal(await page.textContent('table a'), 'Too intense');
      assert.equal(await page.getAttribute('[data-total]', 'data-total'), '1');
      await page.close();
    });
    test('a persona written in the form is stored with its schema\'s types; form and JSON show the same data; refused fields are marked where they are', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/persona/new`);
      await page.fill('input[name=name]', 'Form-made persona');
      // Starts as the example; a list is one item per line, blank lines and edge spaces dropped.
      assert.equal(await page.inputValue('input[name="data.role"]'), FAMILIES.persona.example.role);
      await page.fill('textarea[name="data.traits"]', 'shy\n  answers in questions  \n\n');
      await page.fill('input[name="data.intensity"]', '7');
      // Optional fields left empty are left out, and so is a group (the voice) left wholly empty.
      await page.fill('textarea[name="data.goals"]', '');
      await page.fill('textarea[name="data.background"]', '');
      for (const field of ['voice_id', 'speed', 'language']) await page.fill(`input[name="data.voice.${field}"]`, '');
      await page.click('button.primary');
      await page.waitForSelector('.badge.published');
      const personaId = new URL(page.url()).hash.split('/').pop()!;
      const stored = await org.admin.post('/persona/get', { id: personaId });
      const { goals: _goals, background: _background, voice: _voice, ...kept } = FAMILIES.persona.example as Record<string, unknown>;
      assert.deepEqual(stored.body.data, { ...kept, traits: ['shy', 'answers in questions'], intensity: 7 });

      // The record opens in the form; as JSON it is the same data; changed there, the form shows the change.
      await page.waitForSelector('.data-editor input[name="data.intensity"]');
      await page.click('.tabs button:text-is("JSON")');
      const asJson = JSON.parse(await page.inputValue('textarea[name=data]'));
      assert.deepEqual(asJson, stored.body.data);
      await page.fill('textarea[name=data]', JSON.stringify({ ...asJson, intensity: 11, traits: [] }));
      await page.click('.tabs button:text-is("Form")');
      assert.equal(await page.inputValue('input[name="data.intensity"]'), '11');
      await page.click('button.primary');
      await page.waitForSelector('[role=alert]');
      // Each refusal beside its field, as well as in the list at the top; nothing changed.
      assert.match(await page.textContent('.field.invalid[data-path="data.intensity"] .field-error') ?? '', /10/);
      assert.match(await page.textContent('.field.invalid[data-path="data.traits"] .field-error') ?? '', /\S/);
      assert.equal(await page.locator('.field.invalid').count(), 2);
      const unchanged = await org.admin.post('/persona/get', { id: personaId });
      assert.equal(unchanged.body.version, stored.body.version);
      assert.deepEqual(unchanged.body.data, stored.body.data);
      await page.fill('input[name="data.intensity"]', '9');
      await page.fill('textarea[name="data.traits"]', 'guarded');
      await page.click('button.primary');
      // The markers clear when the save is sent; the next version shows once it is stored.
      await page.waitForSelector(`p.muted:has-text("Version ${stored.body.version + 1} ·")`);
      assert.equal(await page.locator('.field.invalid, [role=alert]').count(), 0);
      const saved = await org.admin.post('/persona/get', { id: personaId });
      assert.equal(saved.body.version, stored.body.version + 1);
      assert.deepEqual(saved.body.data, { ...stored.body.data, intensity: 9, traits: ['guarded'] });

      // A draft lacking required fields opens as JSON: the form would fill them in unasked.
      const draft = await org.admin.post('/persona/draft', { name: 'Half a persona', data: { role: 'only a role so far' } });
      assert.equal(draft.status, 200, draft.text);
      await page.goto(`${harness.baseUrl}/console/#/persona/id/${draft.body.id}`);
      await page.waitForSelector('.data-editor textarea[name=data]');
      assert.deepEqual(JSON.parse(await page.inputValue('textarea[name=data]')), { role: 'only a role so far' });
      await page.click('button:text-is("Save draft")');
      await page.waitForSelector(`p.muted:has-text("Version ${draft.body.version + 1} ·")`);
      assert.deepEqual((await org.admin.post('/persona/get', { id: draft.body.id })).body.data, { role: 'only a role so far' });
      await page.close();
    });

    test('lists of groups in the form grow and shrink: a rubric loses a criterion and gains a level', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const example = FAMILIES.rubric.example as { criteria: { levels: unknown[] }[] };
      assert.ok(example.criteria.length >= 2, 'the rubric example has two criteria to start from');
      const rubric = await org.admin.post('/rubric/create', { name: 'Listening rubric', data: example });
      assert.equal(rubric.status, 200, rubric.text);
      await page.goto(`${harness.baseUrl}/console/#/rubric/id/${rubric.body.id}`);
      await page.waitForSelector('.data-editor');
      await page.click('button:text-is("Remove criterion 2")');
      const levels = example.criteria[0]!.levels.length;
      await page.click('fieldset[data-path="data.criteria[0].levels"] > button:text-is("Add level")');
      const added = `data.criteria[0].levels[${levels}]`;
      await page.fill(`input[name="${added}.label"]`, 'Not attempted');
      await page.fill(`textarea[name="${added}.description"]`, 'Does not try to paraphrase.');
      await page.fill(`input[name="${added}.points"]`, '0');
      await page.click('button.primary');
      await page.waitForSelector(`p.muted:has-text("Version ${rubric.body.version + 1} ·")`);
      const saved = await org.admin.post('/rubric/get', { id: rubric.body.id });
      const criteria = saved.body.data.criteria as { levels: unknown[] }[];
      assert.equal(criteria.length, 1);
      assert.deepEqual(criteria[0]!.levels, [...example.criteria[0]!.levels, { label: 'Not attempted', description: 'Does not try to paraphrase.', points: 0 }]);
      await page.close();
    });

    test('at 400 px wide, record forms, lists and files fit the screen, and the families do not push the content down', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.setViewportSize({ width: 400, height: 800 });
      const long = await org.admin.post('/persona/create', {
        name: 'Narrowscreenpersonawithaverylongnamethathasnospacesatall',
        description: 'a_description_that_is_one_long_word_0123456789012345678901234567890123456789',
        data: FAMILIES.persona.example,
      });
      assert.equal(long.status, 200, long.text);
      const views: [string, string][] = [
        ['#/persona/new', 'h2:text-is("New persona")'],
        ['#/simulation/new', 'h2:text-is("New simulation")'],
        [`#/persona/id/${long.body.id}`, '.data-editor input[name="data.role"]'],
        ['#/persona?search=Narrowscreen', 'table a'],
        ['#/scenario/files', 'input[name=file]'],
        ['#/scenario/generate', 'textarea[name=instructions]'],
      ];
      for (const [hash, ready] of views) {
        await page.goto(`${harness.baseUrl}/console/${hash}`);
        await page.waitForSelector(ready);
        const fit = await page.evaluate(() => ({
          width: document.documentElement.scrollWidth,
          headingTop: document.querySelector('#main h1')!.getBoundingClientRect().top,
          navHeight: document.querySelector('nav')!.getBoundingClientRect().height,
        }));
        assert.ok(fit.width <= 400, `${hash} is ${fit.width} px wide`);
        assert.ok(fit.headingTop < 200, `${hash} starts ${fit.headingTop} px down`);
        assert.ok(fit.navHeight < 80, `the families take ${fit.navHeight} px`);
      }
      // Every family is still one tap away, in the strip.
      assert.equal(await page.locator('nav a').count(), 20);
      await page.close();
    });

    test('a draft is saved with its required fields still empty; a refused name is marked and brought into view', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/simulation/new`);
      await page.waitForSelector('h2:text-is("New simulation")');
      await page.fill('input[name=name]', 'Sketch of a simulation');
      await page.click('button:text-is("Save as draft")');
      await page.waitForSelector('.badge.draft');
      const draftId = new URL(page.url()).hash.split('/').pop()!;
      const draft = await org.admin.post('/simulation/get', { id: draftId });
      assert.equal(draft.body.status, 'draft');
      assert.ok(!('persona_id' in draft.body.data) && !('scenario_id' in draft.body.data), JSON.stringify(draft.body.data));
      assert.ok(Object.values(draft.body.data).every((value) => value !== ''), JSON.stringify(draft.body.data));

      // A short window: the refusal is above the buttons, out of sight, until the page brings it into view.
      await page.setViewportSize({ width: 800, height: 400 });
      await page.goto(`${harness.baseUrl}/console/#/persona/new`);
      await page.waitForSelector('h2:text-is("New persona")');
      await page.click('button:text-is("Create and publish")');
      await page.waitForSelector('.field.invalid[data-path=name]');
      assert.match(await page.textContent('.field[data-path=name] .field-error') ?? '', /\S/);
      assert.equal(await page.getAttribute('input[name=name]', 'aria-invalid'), 'true');
      const focus = await page.evaluate(() => {
        const alert = document.querySelector('#main [role=alert]')!;
        const box = alert.getBoundingClientRect();
        return { focused: document.activeElement === alert, inView: box.top >= 0 && box.top < window.innerHeight };
      });
      assert.deepEqual(focus, { focused: true, inView: true });
      // Fixed and sent again: the marks go.
      await page.fill('input[name=name]', 'Named at last');
      await page.click('button:text-is("Create and publish")');
      await page.waitForSelector('.badge.published');
      assert.equal(await page.locator('[aria-invalid=true]').count(), 0);
      await page.close();
    });

    test('a run whose follow-up lookup fails still reads as a success, with the lookup\'s problem said below it', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.route('**/persona/group', (route) => route.abort('connectionrefused'));
      await page.goto(`${harness.baseUrl}/console/#/persona/generate`);
      await page.fill('textarea[name=instructions]', 'A learner who never reads the syllabus');
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-lookup=failed]', { timeout: 30_000 });
      assert.match(await page.textContent('p.success') ?? '', /Saved/);
      assert.match(await page.textContent('[data-lookup=failed]') ?? '', /Could not load the run's details: the server could not be reached/);
      assert.equal(await page.locator('#main [role=alert]').count(), 0);
      await page.close();
    });

    test('cancelling a run is a plain notice naming what it had saved, not an error', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      const modelIds = await slowFakeModel(context, 'slow-cancel', 1500);
      await page.goto(`${harness.baseUrl}/console/#/rubric/generate`);
      await page.fill('textarea[name=instructions]', 'A rubric for asking open questions');
      await page.fill('input[name=count]', '4');
      await page.fill('input[name=model_id]', modelIds[0]!);
      await page.click('button[type=submit]');
      await page.waitForSelector('.frames li[data-type=GenerationSavedEvent] a', { timeout: 30_000 });
      await page.click('button:text-is("Cancel")');
      await page.waitForSelector('[data-outcome=cancelled]', { timeout: 30_000 });
      const notice = await page.textContent('[data-outcome=cancelled]') ?? '';
      assert.match(notice, /Cancelled\./);
      const savedLinks = await page.$$eval('.frames li[data-type=GenerationSavedEvent] a', (links) => links.map((link) => (link as HTMLAnchorElement).hash));
      const noticeLinks = await page.$$eval('[data-outcome=cancelled] a[href*="/rubric/id/"]', (links) => links.map((link) => (link as HTMLAnchorElement).hash));
      assert.ok(noticeLinks.length >= 1);
      assert.deepEqual(noticeLinks, savedLinks);
      assert.equal(await page.locator('#main [role=alert], #main .error').count(), 0);
      await page.close();
    });

    test('generating a system does not link to a page it cannot have; the scenario form offers only the fields that apply', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/system/generate`);
      await page.fill('textarea[name=instructions]', 'A system prompt for a patient tutor');
      await page.click('button[type=submit]');
      await page.waitForSelector('p.success', { timeout: 30_000 });
      const saved = page.locator('.frames li[data-type=GenerationSavedEvent]');
      assert.equal(await saved.locator('a[href*="/system/id/"]').count(), 0);
      assert.match(await saved.textContent() ?? '', /group's detail/);
      assert.match((await saved.locator('a').getAttribute('href')) ?? '', /^#\/system\/group\//);

      await page.goto(`${harness.baseUrl}/console/#/scenario/generate`);
      await page.waitForSelector('select[name=modality]');
      // Text: no media, so nothing to title or attach.
      assert.equal(await page.isVisible('input[name=title]'), false);
      assert.equal(await page.isVisible('input[name=artifact_id]'), false);
      await page.selectOption('select[name=modality]', 'image');
      assert.equal(await page.isVisible('input[name=title]'), true);
      assert.equal(await page.isEnabled('input[name=count]'), true);
      // Attaching makes one set of media: no count.
      await page.fill('input[name=artifact_id]', '01a23f91-05b5-7738-ac9e-aaba8a23b86a');
      assert.equal(await page.isEnabled('input[name=count]'), false);
      await page.selectOption('select[name=modality]', 'text');
      assert.equal(await page.isEnabled('input[name=count]'), true);
      assert.equal(await page.isVisible('input[name=artifact_id]'), false);
      await page.close();
    });

    test('hints say "an image"; profiles and tokens offer no draft filter', async (context) => {
      const page = await open(context, org.admin.token!);
      if (!page) return;
      await page.goto(`${harness.baseUrl}/console/#/scenario/new`);
      await page.waitForSelector('.field[data-path="data.image_upload_ids"]');
      assert.match(await page.textContent('.field[data-path="data.image_upload_ids"]') ?? '', /The upload id of an image/);
      await page.goto(`${harness.baseUrl}/console/#/profile`);
      await page.waitForSelector('#main h1:text-is("profiles")');
      assert.equal(await page.locator('select[name=status]').count(), 0);
      await page.goto(`${harness.baseUrl}/console/#/persona`);
      await page.waitForSelector('#main h1:text-is("personas")');
      assert.deepEqual(await page.$$eval('select[name=status] option', (options) => options.map((option) => (option as HTMLOptionElement).value)), ['', 'published', 'draft']);
      await page.close();
    });
  });
});
