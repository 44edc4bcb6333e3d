import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The ffmpeg binary that ships inside an npm package (@ffmpeg-installer): nothing is downloaded at install. */
export function ffmpegPath(): string {
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export interface VideoComposition {
  /** A still frame (PNG or JPEG). */
  image: Buffer;
  /** Narration (WAV, MP3...); the video lasts as long as it, or `seconds` without it. */
  narration?: Buffer;
  seconds?: number;
  /** Stops ffmpeg (a cancelled run). */
  signal?: AbortSignal;
}

const COMPOSE_TIMEOUT_MS = 120_000;

/** An H.264/AAC MP4 made from a still image and optional narration: the video stand-in when no provider makes video. */
export async function composeVideo(composition: VideoComposition): Promise<Buffer> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'glow-video-'));
  try {
    const imagePath = path.join(folder, 'frame.png');
    const outputPath = path.join(folder, 'video.mp4');
    await writeFile(imagePath, composition.image);
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', '2', '-i', imagePath];
    if (composition.narration) {
      const narrationPath = path.join(folder, 'narration');
      await writeFile(narrationPath, composition.narration);
      // -shortest overshoots with a looped still image (the video side is buffered ahead), so cut at the narration's length.
      const seconds = composition.seconds ?? (await probeMedia(composition.narration)).durationSeconds;
      args.push('-i', narrationPath, '-c:a', 'aac', '-b:a', '96k', '-t', seconds.toFixed(3));
    } else {
      args.push('-t', String(composition.seconds ?? 4));
    }
    // Even dimensions are required by yuv420p; the scale filter rounds them.
    args.push('-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2', '-c:v', 'libx264', '-tune', 'stillimage', '-pix_fmt', 'yuv420p', '-r', '10', '-movflags', '+faststart', outputPath);
    await run(ffmpegPath(), args, { timeout: COMPOSE_TIMEOUT_MS, ...(composition.signal ? { signal: composition.signal } : {}) }).catch((error: { killed?: boolean; stderr?: string; code?: unknown }) => {
      composition.signal?.throwIfAborted();
      // execFile's own message is the whole command line, temporary paths included: not for a run's error event.
      const said = error.stderr?.trim().split('\n').at(-1) || (typeof error.code === 'string' ? error.code : undefined);
      throw new Error(error.killed ? `ffmpeg did not finish the video within ${COMPOSE_TIMEOUT_MS / 1000} s` : `ffmpeg could not compose the video${said ? `: ${said.slice(0, 200)}` : ''}`);
    });
    return await readFile(outputPath);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

export interface ProbedMedia {
  durationSeconds: number;
  hasVideo: boolean;
  hasAudio: boolean;
}

/** Reads a media file's container with ffmpeg: what a test (or a sanity check) uses to prove a file plays. */
export async function probeMedia(bytes: Buffer): Promise<ProbedMedia> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'glow-probe-'));
  try {
    const inputPath = path.join(folder, 'input');
    await writeFile(inputPath, bytes);
    // ffmpeg with no output exits non-zero but prints the container description on stderr.
    const result = await run(ffmpegPath(), ['-hide_banner', '-i', inputPath], { timeout: 60_000 }).catch((error: { stderr?: string }) => ({ stderr: error.stderr ?? '' }));
    const description = result.stderr;
    const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(description);
    return {
      durationSeconds: duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : 0,
      hasVideo: /Stream #\S+.*Video:/.test(description),
      hasAudio: /Stream #\S+.*Audio:/.test(description),
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
