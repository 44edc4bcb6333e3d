/**
 * Group commit: calls that arrive while a batch is being processed wait and go together in the
 * next one, so N concurrent callers cost a few statements instead of N transactions. Nothing
 * waits on a timer: a call arriving at an idle coalescer is processed on the next turn of the
 * event loop (with whatever else arrived in the same turn), or, with `settleMs`, on the first
 * turn that brings no more calls; each next batch waits the same way.
 *
 * `process` answers each input on its own (a value or an Error), so one input's failure is that
 * caller's alone; a throw from `process` fails the whole batch, unless `retryAlone` is set: then
 * each input of a failed batch is processed again on its own, and a throw fails only that input.
 *
 * With `concurrency` above 1, calls arriving while a batch is in flight start another batch at
 * once (up to that many in flight) instead of waiting for it: on a server with a connection pool,
 * the database works on them side by side.
 */
export interface CoalescerOptions {
  maxBatch?: number;
  /**
   * Waits for the calls to settle before a batch starts: while a turn of the event loop brings
   * more calls, the batch waits one more turn, up to this many milliseconds after its wait began.
   * For batches whose statement costs much the same for one input as for dozens.
   */
  settleMs?: number;
  concurrency?: number;
  retryAlone?: boolean;
}

/**
 * How long a request coalescer (token lookups, trigger batches) lets a burst of requests gather
 * before its first statement: a lookup costs PGlite ~0.4 ms plus ~7 µs per token, so a burst of
 * 200 answered in 5 lookups instead of 1 pays the fixed part 5 times on the one thread. Waiting
 * stops at the first turn of the event loop that brings no new call, so a lone request waits one
 * turn, not this long.
 */
export const REQUEST_SETTLE_MS = 5;

export class Coalescer<In, Out> {
  private pending: { input: In; resolve: (value: Out) => void; reject: (error: unknown) => void }[] = [];
  private draining = 0;
  private readonly maxBatch: number;
  private readonly concurrency: number;

  constructor(
    private readonly process: (inputs: In[]) => Promise<(Out | Error)[]>,
    private readonly options: CoalescerOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.concurrency = options.concurrency ?? 1;
  }

  /** True when no call waits and no batch is in flight. */
  get idle(): boolean {
    return this.pending.length === 0 && this.draining === 0;
  }

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.draining < this.concurrency) {
        this.draining += 1;
        this.startWhenSettled();
      }
    });
  }

  private startWhenSettled(): void {
    const settleMs = this.options.settleMs ?? 0;
    const since = performance.now();
    let seen = this.pending.length;
    const check = () => {
      if (this.pending.length > seen && this.pending.length < this.maxBatch && performance.now() - since < settleMs) {
        seen = this.pending.length;
        setImmediate(check);
      } else {
        void this.drain();
      }
    };
    setImmediate(check);
  }

  /** Processes one batch; then, if calls are waiting, the next one starts as the first did. */
  private async drain(): Promise<void> {
    // Another batch in flight may have taken every call this one was started for.
    const batch = this.pending.splice(0, this.maxBatch);
    if (batch.length > 0) {
      try {
        const outputs = await this.process(batch.map((entry) => entry.input));
        batch.forEach((entry, index) => {
          const output = outputs[index];
          if (output instanceof Error) entry.reject(output);
          else entry.resolve(output as Out);
        });
      } catch (error) {
        if (this.options.retryAlone && batch.length > 1) await this.processAlone(batch);
        else for (const entry of batch) entry.reject(error);
      }
      if (this.pending.length > 0) {
        this.startWhenSettled();
        return;
      }
    }
    this.draining -= 1;
  }

  private async processAlone(batch: typeof this.pending): Promise<void> {
    for (const entry of batch) {
      try {
        const [output] = await this.process([entry.input]);
        if (output instanceof Error) entry.reject(output);
        else entry.resolve(output as Out);
      } catch (error) {
        entry.reject(error);
      }
    }
  }
}
