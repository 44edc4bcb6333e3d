import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer } from '../../src/db/coalescer.ts';

/** A batch processor whose batches end when the test says so. */
function controlled() {
  const batches: { inputs: number[]; finish: () => void }[] = [];
  const process = (inputs: number[]) =>
    new Promise<(number | Error)[]>((resolve) => {
      batches.push({ inputs, finish: () => resolve(inputs.map((input) => (input < 0 ? new Error(`bad ${input}`) : input * 10))) });
    });
  return { batches, process };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('calls made together go in one batch; calls made while it is in flight wait for the next', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process);
  const first = [coalescer.submit(1), coalescer.submit(2)];
  await turn();
  const later = coalescer.submit(3);
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1, 2]]);
  batches[0]!.finish();
  assert.deepEqual(await Promise.all(first), [10, 20]);
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1, 2], [3]]);
  batches[1]!.finish();
  assert.equal(await later, 30);
});

test('with concurrency 2 a second batch starts while the first is in flight, and not a third', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process, { concurrency: 2 });
  const a = coalescer.submit(1);
  await turn();
  const b = coalescer.submit(2);
  await turn();
  const c = coalescer.submit(3);
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1], [2]]);
  batches[1]!.finish();
  assert.equal(await b, 20);
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1], [2], [3]]);
  batches[0]!.finish();
  batches[2]!.finish();
  assert.deepEqual(await Promise.all([a, c]), [10, 30]);
});

test('an input answered with an Error rejects only its own call', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process);
  const good = coalescer.submit(1);
  const bad = coalescer.submit(-1);
  await turn();
  batches[0]!.finish();
  assert.equal(await good, 10);
  await assert.rejects(bad, /bad -1/);
});

test('with retryAlone a failed batch is processed again input by input, and a throw fails only its own input', async () => {
  const seen: number[][] = [];
  const process = async (inputs: number[]) => {
    seen.push(inputs);
    if (inputs.length > 1 || inputs[0] === 2) throw new Error(`failed ${inputs.join(',')}`);
    return inputs.map((input) => input * 10);
  };
  const alone = new Coalescer(process, { retryAlone: true });
  const outcomes = await Promise.allSettled([alone.submit(1), alone.submit(2), alone.submit(3)]);
  assert.deepEqual(seen, [[1, 2, 3], [1], [2], [3]]);
  assert.deepEqual(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as Error).message)), [10, 'failed 2', 30]);

  const together = new Coalescer(process);
  const failed = await Promise.allSettled([together.submit(1), together.submit(3)]);
  assert.deepEqual(failed.map((outcome) => outcome.status), ['rejected', 'rejected']);
});

test('with settleMs a batch waits while each turn brings more calls, and starts on the first turn that brings none', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process, { settleMs: 1000 });
  // Two calls in one turn, as a poll of the sockets hands the server several requests at once.
  const calls = [coalescer.submit(1), coalescer.submit(2)];
  for (let input = 3; input <= 5; input += 1) {
    await turn();
    calls.push(coalescer.submit(input));
  }
  assert.equal(batches.length, 0, 'still gathering while calls keep coming');
  await turn();
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1, 2, 3, 4, 5]]);
  batches[0]!.finish();
  assert.deepEqual(await Promise.all(calls), [10, 20, 30, 40, 50]);
});

test('with settleMs a lone call starts on the next turn, and calls that keep coming start a batch once settleMs has passed', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process, { settleMs: 5 });
  const lone = coalescer.submit(1);
  await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1]]);
  batches[0]!.finish();
  assert.equal(await lone, 10);
  const started = performance.now();
  const stream: Promise<number>[] = [coalescer.submit(2)];
  while (batches.length === 1) {
    stream.push(coalescer.submit(stream.length + 2));
    await turn();
    assert.ok(performance.now() - started < 1000, 'a batch must start although calls keep coming');
  }
  assert.ok(batches[1]!.inputs.length > 1);
  assert.ok(performance.now() - started >= 5, 'the batch started before settleMs had passed');
  batches[1]!.finish();
  assert.deepEqual(await Promise.all(stream), batches[1]!.inputs.map((input) => input * 10));
});

test('with concurrency 2 a batch slot that finds every call taken runs no empty batch', async () => {
  const { batches, process } = controlled();
  const coalescer = new Coalescer(process, { concurrency: 2, settleMs: 1000 });
  const first = coalescer.submit(1);
  const second = coalescer.submit(2);
  for (let i = 0; i < 4; i += 1) await turn();
  assert.deepEqual(batches.map((batch) => batch.inputs), [[1, 2]]);
  batches[0]!.finish();
  assert.deepEqual(await Promise.all([first, second]), [10, 20]);
  assert.ok(coalescer.idle);
});
