// Unit tests of the CLI's pieces that need no server: flag typing, frame labels, escaping,
// answers that are not JSON, byte ranges. The cli suite (test/suites/cli.test.ts) runs the CLI.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseArgs, requestBody, UsageError } from '../../src/cli/args.ts';
import { familyHelp, findOperation, flagKinds, loadOperations, schemaOperations } from '../../src/cli/catalogue.ts';
import { FAMILIES } from '../../src/artifacts/families/index.ts';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { byteRange, terminalSafe } from '../../src/cli/commands/media.ts';
import { CliError, GlowClient } from '../../src/cli/http.ts';
import { escapeControls, formatResult, type Output } from '../../src/cli/output.ts';
import { FrameDisplay, followWatch } from '../../src/cli/watch.ts';

async function bodyOf(path: string, argv: string[], reserved: string[] = []): Promise<Record<string, unknown>> {
  const operation = await findOperation(path);
  assert.ok(operation, path);
  return requestBody(parseArgs(argv), reserved, flagKinds(operation.body ?? operation.query));
}

function capture(json = false): Output & { lines: string[] } {
  const lines: string[] = [];
  return { json, tty: false, lines, out: (text) => void lines.push(text), write: (text) => void lines.push(text), err: (text) => void lines.push(text) };
}

describe('cli flags by field type', () => {
  test('the schemas flags are read by are the operations the help lists (route modules alone, without the services)', async () => {
    const key = (operation: { method: string; path: string }) => `${operation.method} ${operation.path}`;
    assert.deepEqual((await schemaOperations()).map(key).sort(), (await loadOperations()).map(key).sort());
  });

  test('every flag in every family\'s help says what it is for', async () => {
    const operations = await schemaOperations();
    const bare: string[] = [];
    for (const type of Object.keys(FAMILIES) as (keyof typeof FAMILIES)[]) {
      const help = familyHelp(type, operations) ?? '';
      for (const line of help.split('\n')) {
        if (/^\s+--[\w.-]+ <.+>\s*(\(required\))?\s*$/.test(line)) bare.push(`${type}: ${line.trim()}`);
      }
    }
    assert.deepEqual(bare, []);
  });

  test('text fields keep the text as typed: numbers, true and quotes included', async () => {
    const body = await bodyOf('/persona/create', ['--name', '2024', '--description', 'true', '--data.role', '"quoted"', '--data.speaking-style', 'null']);
    assert.deepEqual(body, { name: '2024', description: 'true', data: { role: '"quoted"', speaking_style: 'null' } });
    assert.deepEqual(await bodyOf('/setting/create', ['--data.value', '30']), { data: { value: '30' } });
  });

  test('a list of texts takes one value as a one-item list; repeats and JSON arrays still make lists', async () => {
    assert.deepEqual(await bodyOf('/persona/create', ['--data.traits', 'passive']), { data: { traits: ['passive'] } });
    assert.deepEqual(await bodyOf('/persona/create', ['--data.traits', 'passive', '--data.traits', '7']), { data: { traits: ['passive', '7'] } });
    assert.deepEqual(await bodyOf('/persona/create', ['--data.traits', '["a","b"]']), { data: { traits: ['a', 'b'] } });
    assert.deepEqual(await bodyOf('/persona/generate', ['--instructions', '2024', '--title', '42'], ['wait']), { instructions: ['2024'], title: '42' });
  });

  test('numbers and booleans must parse: anything else is a usage error naming the flag', async () => {
    assert.deepEqual(await bodyOf('/persona/search', ['--page-limit', '5']), { page_limit: 5 });
    assert.deepEqual(await bodyOf('/persona/create', ['--data.intensity', '7']), { data: { intensity: 7 } });
    await assert.rejects(bodyOf('/persona/search', ['--page-limit', 'abc']), (error: Error) => error instanceof UsageError && /--page-limit must be a number, not "abc"/.test(error.message));
    await assert.rejects(bodyOf('/persona/search', ['--page-limit']), (error: Error) => error instanceof UsageError && /--page-limit needs a value/.test(error.message));
    assert.deepEqual(await bodyOf('/system/group', ['--include-detail', 'false']), { include_detail: false });
    assert.deepEqual(await bodyOf('/system/group', ['--include-detail']), { include_detail: true });
    await assert.rejects(bodyOf('/system/group', ['--include-detail', 'yes']), (error: Error) => error instanceof UsageError && /--include-detail must be true or false/.test(error.message));
  });

  test('a text flag given no value is a usage error', async () => {
    await assert.rejects(bodyOf('/persona/create', ['--name']), (error: Error) => error instanceof UsageError && error.exitCode === 2 && /--name needs a value/.test(error.message));
    await assert.rejects(bodyOf('/persona/create', ['--name', '--description', 'x']), /--name needs a value/);
  });

  test('object fields and fields the schema does not name keep the JSON-ish reading', async () => {
    assert.deepEqual(await bodyOf('/persona/create', ['--data', '{"intensity":3}', '--colour', '5']), { data: { intensity: 3 }, colour: 5 });
  });
});

describe('cli watch labels', () => {
  test('runs started in the same minute get different labels (UUIDv7 ids share their first digits)', () => {
    const output = capture();
    const display = new FrameDisplay(output, { labelRuns: true, family: 'persona' });
    display.show({ event_type: 'persona.generation.saved', run_id: '019ae8f1-2a3b-7c4d-8e5f-0123456789ab', artifact_id: 'a1' });
    display.show({ event_type: 'persona.generation.saved', run_id: '019ae8f1-2a3b-7c4d-8e5f-ba9876543210', artifact_id: 'a2' });
    assert.deepEqual(output.lines, ['[run 456789ab] saved a1', '[run 76543210] saved a2']);
  });

  test('a frame of another family than the one watched is labelled with its family', () => {
    const output = capture();
    const display = new FrameDisplay(output, { labelRuns: true, family: 'persona' });
    display.show({ event_type: 'scenario.generation.saved', run_id: '019ae8f1-2a3b-7c4d-8e5f-0123456789ab', artifact_id: 's1' });
    assert.deepEqual(output.lines, ['[scenario run 456789ab] saved s1']);
  });
});

describe('cli terminal safety', () => {
  test('control characters in server text are shown as escapes; newlines and tabs stay', async () => {
    const evil = 'Evil \u001b[31mRED\u001b]0;pwned\u0007 \u009b2J\r';
    assert.equal(escapeControls(`${evil}\n\tnext`), 'Evil \\u001b[31mRED\\u001b]0;pwned\\u0007 \\u009b2J\\u000d\n\tnext');
    const output = capture();
    new FrameDisplay(output).show({ event_type: 'persona.generation.error', message: evil });
    assert.doesNotMatch(output.lines.join('\n'), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    // A text download shown on a terminal too, whatever the chunking of its UTF-8 bytes.
    const bytes = Buffer.from(`${evil} é\n`, 'utf8');
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    assert.equal(await text(Readable.from(chunks).pipe(terminalSafe())), escapeControls(`${evil} é\n`));
    // formatResult itself stays exact: the Output escapes (terminalOutput), --json does not.
    assert.match(formatResult({ name: evil }), /\u001b\[31m/);
  });

  test('bidirectional overrides and isolates are shown as escapes; right-to-left text is not touched', () => {
    // "Trojan Source": the override shows "txt.exe" reversed as "exe.txt".
    assert.equal(escapeControls('report\u202Etxt.exe'), 'report\\u202etxt.exe');
    assert.equal(escapeControls('\u2066a\u2069 \u202Ab\u202C'), '\\u2066a\\u2069 \\u202ab\\u202c');
    assert.equal(escapeControls('שלום مرحبا'), 'שלום مرحبا');
  });
});

describe('cli answers that are not JSON', () => {
  test('a 200 that is not JSON is a one-line CliError naming the server, not a SyntaxError', async () => {
    const client = new GlowClient({ instanceUrl: 'http://127.0.0.1:4211/console/' });
    const answer = new Response('<!doctype html>\n<html><body>Glow console</body></html>', { status: 200, headers: { 'content-type': 'text/html' } });
    await assert.rejects(client.json(answer, 'POST /persona/search'), (error: Error) => {
      assert.ok(error instanceof CliError && error.exitCode === 1, String(error));
      assert.match(error.message, /^the server at http:\/\/127\.0\.0\.1:4211\/console did not answer JSON to POST \/persona\/search \(HTTP 200, text\/html, starting "<!doctype html> <html>/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  });

  test('a watch answered 200 with a web page is a one-line CliError, not a stream that ends', async () => {
    const client = new GlowClient({ instanceUrl: 'http://127.0.0.1:4211/console' });
    client.send = async () => new Response('<!doctype html><html></html>', { status: 200, headers: { 'content-type': 'text/html' } });
    await assert.rejects(followWatch(client, '/persona/watch?run_id=x', { reconnectOnEnd: false, onFrame: () => true }), (error: Error) => {
      assert.ok(error instanceof CliError && error.exitCode === 1, String(error));
      assert.match(error.message, /^the server at http:\/\/127\.0\.0\.1:4211\/console did not answer an event stream to GET \/persona\/watch \(HTTP 200, text\/html\)/);
      return true;
    });
  });
});

describe('cli byte ranges', () => {
  test('a-b, a- and -n are ranges, with or without bytes=; anything else is a usage error', () => {
    assert.equal(byteRange('0-99'), 'bytes=0-99');
    assert.equal(byteRange('100-'), 'bytes=100-');
    assert.equal(byteRange('-500'), 'bytes=-500');
    assert.equal(byteRange('bytes=5-5'), 'bytes=5-5');
    for (const bad of ['abc', '', '5', '9-3', '1-2-3', '-0', 'bytes=', '0-99,200-']) {
      assert.throws(() => byteRange(bad), (error: Error) => error instanceof UsageError && /is not a byte range/.test(error.message), bad);
    }
  });
});
