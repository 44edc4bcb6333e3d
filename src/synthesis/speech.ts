import { Worker } from 'node:worker_threads';
import type { SpeechAnswer, SpeechJob } from './speech-worker.ts';

const SAMPLE_RATE = 22_050;
const WORKER_URL = new URL('./speech-worker-entry.mjs', import.meta.url);

/** What one job may take before its worker is taken for stuck and replaced. */
const JOB_TIMEOUT_MS = 60_000;

interface PendingJob {
  resolve: (samples: Int16Array) => void;
  reject: (error: Error) => void;
}

/**
 * One eSpeak worker thread, with the jobs it was given. A worker that fails (an error, an exit, a
 * job past its deadline) rejects its own jobs only and is replaced on the next call: an aborted
 * WebAssembly module would fail every later job.
 */
class SpeechThread {
  private readonly worker = new Worker(WORKER_URL);
  private readonly pending = new Map<number, PendingJob>();
  private nextJobId = 1;
  failed = false;

  constructor() {
    // Idle, it does not keep the process alive; with jobs pending it does.
    this.worker.unref();
    this.worker.on('message', (answer: SpeechAnswer) => {
      const job = this.pending.get(answer.id);
      if (!job) return;
      this.settled(answer.id);
      if (answer.ok) job.resolve(answer.samples);
      else job.reject(new Error(`offline speech failed: ${answer.message}`));
    });
    this.worker.on('error', (error) => this.fail(error.message));
    this.worker.on('exit', (code) => this.fail(`the speech worker stopped (exit code ${code})`));
  }

  synthesize(job: Omit<SpeechJob, 'id'>): Promise<Int16Array> {
    const id = this.nextJobId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no speech after ${JOB_TIMEOUT_MS / 1000} s`);
        void this.worker.terminate();
      }, JOB_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, {
        resolve: (samples) => { clearTimeout(timer); resolve(samples); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.worker.ref();
      this.worker.postMessage({ id, ...job } satisfies SpeechJob);
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(reason: string): void {
    this.failed = true;
    for (const [id, job] of [...this.pending]) {
      this.settled(id);
      job.reject(new Error(`offline speech failed: ${reason}`));
    }
  }
}

let thread: SpeechThread | undefined;

function synthesizeInWorker(text: string, voice: string, wordsPerMinute: number): Promise<Int16Array> {
  if (!thread || thread.failed) thread = new SpeechThread();
  return thread.synthesize({ text, voice, wordsPerMinute });
}

/** A mono 16-bit PCM WAV file around `samples`. */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const dataBytes = samples.length * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, dataBytes)]);
}

export interface OfflineSpeechOptions {
  /** BCP-47 tag such as `en-US`; eSpeak's voice for it. */
  language?: string;
  /** 1 is normal speed. */
  speed?: number;
}

export interface SynthesizedSpeech {
  wav: Buffer;
  durationSeconds: number;
}

/** Speech for `text` as a WAV file, made on this machine with eSpeak NG (robotic, honest, offline), in a worker thread. */
export async function synthesizeSpeechOffline(text: string, options: OfflineSpeechOptions = {}): Promise<SynthesizedSpeech> {
  const samples = await synthesizeInWorker(text.trim() || '...', (options.language ?? 'en-us').toLowerCase(), Math.round(160 * (options.speed ?? 1)));
  return { wav: encodeWav(samples, SAMPLE_RATE), durationSeconds: samples.length / SAMPLE_RATE };
}
