import { createRequire } from 'node:module';

const SAMPLE_RATE = 22_050;

interface EspeakWorker {
  set_voice(voice: string): void;
  set_rate(wordsPerMinute: number): void;
  synthesize(text: string, onChunk: (samples: Int16Array | undefined, events: unknown[]) => void): void;
}

let worker: Promise<EspeakWorker> | undefined;

/** eSpeak NG compiled to WebAssembly: ships inside its npm package, so speech works offline and airgapped. */
function espeak(): Promise<EspeakWorker> {
  worker ??= (async () => {
    const require = createRequire(import.meta.url);
    const { default: initialize } = await import(require.resolve('@echogarden/espeak-ng-emscripten/espeak-ng.js'));
    const module = await initialize();
    return new module.eSpeakNGWorker() as EspeakWorker;
  })();
  return worker;
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

/** Speech for `text` as a WAV file, made on this machine with eSpeak NG (robotic, honest, offline). */
export async function synthesizeSpeechOffline(text: string, options: OfflineSpeechOptions = {}): Promise<SynthesizedSpeech> {
  const engine = await espeak();
  const chunks: Int16Array[] = [];
  engine.set_voice((options.language ?? 'en-us').toLowerCase());
  engine.set_rate(Math.round(160 * (options.speed ?? 1)));
  engine.synthesize(text.trim() || '...', (samples) => {
    if (samples && samples.length > 0) chunks.push(samples.slice());
  });
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const samples = new Int16Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    samples.set(chunk, offset);
    offset += chunk.length;
  }
  return { wav: encodeWav(samples, SAMPLE_RATE), durationSeconds: total / SAMPLE_RATE };
}
