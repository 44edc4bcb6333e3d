import { Worker } from 'node:worker_threads';
import type { SpeechAnswer, SpeechJob } from './speech-worker.ts';

const SAMPLE_RATE = 22_050;
const WORKER_URL = new URL('./speech-worker-entry.mjs', import.meta.url);

/** One eSpeak worker thread for the process, started on the first call; jobs run in turn. */
let worker: Worker | undefined;
const pending = new Map<number, { resolve: (samples: Int16Array) => void; reject: (error: Error) => void }>();
let nextJobId = 1;

function speechWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(WORKER_URL);
  // An idle worker does not keep the process alive; one with work does (ref while jobs are pending).
  started.unref();
  started.on('message', (answer: SpeechAnswer) => {
    const job = pending.get(answer.id);
    if (!job) return;
    pending.delete(answer.id);
    if (pending.size === 0) started.unref();
    if (answer.ok) job.resolve(answer.samples);
    else job.reject(new Error(`offline speech failed: ${answer.message}`));
  });
  const fail = (error: Error) => {
    if (worker === started) worker = undefined;
    for (const job of pending.values()) job.reject(new Error(`offline speech failed: ${error.message}`));
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the speech worker stopped (exit code ${code})`)));
  worker = started;
  return started;
}

function synthesizeInWorker(text: string, voice: string, wordsPerMinute: number): Promise<Int16Array> {
  const thread = speechWorker();
  const id = nextJobId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    thread.ref();
    thread.postMessage({ id, text, voice, wordsPerMinute } satisfies SpeechJob);
  });
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
