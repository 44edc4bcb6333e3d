// eSpeak NG in a worker thread: synthesis is synchronous WebAssembly (about half a second for a
// reply of a few sentences here), which on the main thread would hold up every other request.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

export interface SpeechJob {
  id: number;
  text: string;
  voice: string;
  wordsPerMinute: number;
}

export type SpeechAnswer = { id: number; ok: true; samples: Int16Array } | { id: number; ok: false; message: string };

interface EspeakWorker {
  set_voice(voice: string): void;
  set_rate(wordsPerMinute: number): void;
  synthesize(text: string, onChunk: (samples: Int16Array | undefined, events: unknown[]) => void): void;
}

/** eSpeak NG compiled to WebAssembly: ships inside its npm package, so speech works offline and airgapped. */
async function loadEspeak(): Promise<EspeakWorker> {
  const require = createRequire(import.meta.url);
  const { default: initialize } = await import(require.resolve('@echogarden/espeak-ng-emscripten/espeak-ng.js'));
  const module = await initialize();
  return new module.eSpeakNGWorker() as EspeakWorker;
}

const engine = loadEspeak();

function synthesize(espeak: EspeakWorker, job: SpeechJob): Int16Array {
  const chunks: Int16Array[] = [];
  espeak.set_voice(job.voice);
  espeak.set_rate(job.wordsPerMinute);
  espeak.synthesize(job.text, (samples) => {
    if (samples && samples.length > 0) chunks.push(samples.slice());
  });
  const samples = new Int16Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    samples.set(chunk, offset);
    offset += chunk.length;
  }
  return samples;
}

parentPort?.on('message', (job: SpeechJob) => {
  void engine.then(
    (espeak) => {
      let answer: SpeechAnswer;
      try {
        answer = { id: job.id, ok: true, samples: synthesize(espeak, job) };
      } catch (error) {
        answer = { id: job.id, ok: false, message: error instanceof Error ? error.message : String(error) };
      }
      if (answer.ok) parentPort!.postMessage(answer, [answer.samples.buffer as ArrayBuffer]);
      else parentPort!.postMessage(answer);
    },
    (error: unknown) => parentPort!.postMessage({ id: job.id, ok: false, message: `eSpeak NG could not start: ${error instanceof Error ? error.message : String(error)}` }),
  );
});
