/**
 * Group commit: calls that arrive while a batch is being processed wait and go together in the
 * next one, so N concurrent callers cost a few statements instead of N transactions. Nothing
 * waits on a timer: a call arriving at an idle coalescer is processed on the next turn of the
 * event loop (with whatever else arrived in the same turn).
 *
 * `process` answers each input on its own (a value or an Error), so one input's failure is that
 * caller's alone; a throw from `process` fails the whole batch, unless `retryAlone` is set: then
 * each input of a failed batch is processed again on its own, and a throw fails only that input.
 *
 * With `concurrency` above 1, calls arriving while a batch is in flight start another batch at
 * once (up to that many in flight) instead of waiting for it: on a server with a connection pool,
 * the database works on them side by side. `onIdle` is called each time the last batch in flight
 * ends with nothing waiting.
 */
export interface CoalescerOptions {
  maxBatch?: number;
  concurrency?: number;
  onIdle?: () => void;
  retryAlone?: boolean;
}

export class Coalescer<In, Out> {
  private pending: { input: In; resolve: (value: Out) => void; reject: (error: unknown) => void }[] = [];
  private draining = 0;
  private busySince = 0;
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

  /** Milliseconds since the coalescer was last idle (0 when idle). */
  get busyFor(): number {
    return this.idle ? 0 : performance.now() - this.busySince;
  }

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.idle) this.busySince = performance.now();
      this.pending.push({ input, resolve, reject });
      if (this.draining < this.concurrency) {
        this.draining += 1;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
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
      }
    } finally {
      this.draining -= 1;
      if (this.idle) this.options.onIdle?.();
    }
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
