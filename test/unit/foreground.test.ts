import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ForegroundWork, reportServedRequests } from '../../src/http/foreground.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server reporting to a ForegroundWork, whose responses the test writes itself. */
async function served() {
  const foreground = new ForegroundWork();
  const waiting: http.ServerResponse[] = [];
  const arrived: (() => void)[] = [];
  const server = http.createServer((_request, response) => {
    waiting.push(response);
    arrived.shift()?.();
  });
  reportServedRequests(server, foreground);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  /** Sends a request and resolves with its response object on the server once it arrived there. */
  const request = async (signal?: AbortSignal) => {
    const there = new Promise<void>((resolve) => arrived.push(resolve));
    const answer = fetch(url, { signal }).then((response) => response.text()).catch((error: unknown) => error);
    await there;
    return { response: waiting.at(-1)!, answer };
  };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  server.unref();
  return { foreground, request, close };
}

/** Runs `body` against a new served() server, closed afterwards. */
async function withServed(body: (server: Awaited<ReturnType<typeof served>>) => Promise<void>): Promise<void> {
  const server = await served();
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Whether `promise` has settled after the pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await turn();
  return done;
}

test('requests count as foreground work from arrival to their answer; it is quiet once the last one is answered', async () => {
  await withServed(async ({ foreground, request }) => {
    assert.ok(foreground.quiet, 'quiet when nothing is being served');
    const first = await request();
    const second = await request();
    assert.equal(foreground.quiet, false);
    const waiting = foreground.quietOrAfter(60_000);
    first.response.end('one');
    assert.equal(await first.answer, 'one');
    assert.equal(await settled(waiting), false, 'the second request is still being served');
    assert.equal(foreground.quiet, false);
    second.response.end('two');
    assert.equal(await second.answer, 'two');
    assert.equal(await settled(waiting), true);
    assert.ok(foreground.quiet);
  });
});

test('a streamed response stops counting once its head is written, with writeHead or implicitly by its first write', async () => {
  await withServed(async ({ foreground, request }) => {
    const stream = await request();
    const implicit = await request();
    stream.response.writeHead(200, { 'content-type': 'text/event-stream' });
    stream.response.write('data: 1\n\n');
    assert.equal(foreground.quiet, false, 'the second response has not begun');
    implicit.response.write('partial');
    await turn();
    assert.ok(foreground.quiet, 'both bodies are still flowing, and neither counts');
    // Ending them later reports nothing more: the count never goes below zero.
    stream.response.end();
    implicit.response.end();
    await Promise.all([stream.answer, implicit.answer]);
    const next = await request();
    assert.equal(foreground.quiet, false, 'a new request counts again');
    next.response.end();
    await next.answer;
    await turn();
    assert.ok(foreground.quiet);
  });
});

test('a request whose client goes away before its answer stops counting', async () => {
  await withServed(async ({ foreground, request }) => {
    const controller = new AbortController();
    const abandoned = await request(controller.signal);
    assert.equal(foreground.quiet, false);
    const waiting = foreground.quietOrAfter(60_000);
    controller.abort();
    await abandoned.answer;
    await new Promise<void>((resolve) => (abandoned.response.closed ? resolve() : abandoned.response.once('close', () => resolve())));
    assert.equal(await settled(waiting), true, 'quiet once the connection closed');
    assert.ok(foreground.quiet);
  });
});

test('quietOrAfter resolves when the requests are answered, or after its time while they are not', async () => {
  await withServed(async ({ foreground, request }) => {
    await foreground.quietOrAfter(60_000); // nothing served: at once
    const slow = await request();
    const started = performance.now();
    await foreground.quietOrAfter(30);
    assert.ok(performance.now() - started >= 25, 'it waited while the request was being served');
    assert.equal(foreground.quiet, false, 'the request is still being served');
    const waiting = foreground.quietOrAfter(60_000);
    await sleep(10);
    assert.equal(await settled(waiting), false);
    slow.response.end();
    await slow.answer;
    await waiting;
  });
});
