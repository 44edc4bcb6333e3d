import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { renderOfflineCard } from '../../src/synthesis/card.ts';
import { synthesizeSpeechOffline } from '../../src/synthesis/speech.ts';
import { composeVideo, probeMedia } from '../../src/synthesis/video.ts';

test('the offline card is a real PNG of the asked size, marked offline in its EXIF', async () => {
  const png = await renderOfflineCard({ title: 'University Office', instructions: ['Wide-angle shot, late afternoon light'] });
  const metadata = await sharp(png).metadata();
  assert.equal(metadata.format, 'png');
  assert.equal(metadata.width, 1024);
  assert.equal(metadata.height, 576);
  assert.ok(metadata.exif, 'has EXIF');
  assert.ok(metadata.exif!.toString('latin1').includes('Glow offline placeholder'));
  const other = await renderOfflineCard({ title: 'Hospital ward', instructions: [] });
  assert.notDeepEqual(other, png, 'the card shows what was asked');
});

test('offline speech is a playable WAV whose length follows the text', async () => {
  const short = await synthesizeSpeechOffline('Uh, hello.');
  const long = await synthesizeSpeechOffline('Uh, hello. I did not finish the reading, and I am not sure what the assignment is asking me to do.');
  for (const speech of [short, long]) {
    assert.equal(speech.wav.subarray(0, 4).toString('ascii'), 'RIFF');
    assert.equal(speech.wav.subarray(8, 12).toString('ascii'), 'WAVE');
    assert.equal(speech.wav.readUInt32LE(24), 22050);
    assert.equal(speech.wav.readUInt32LE(40), speech.wav.length - 44);
    const probed = await probeMedia(speech.wav);
    assert.ok(probed.hasAudio);
    assert.ok(Math.abs(probed.durationSeconds - speech.durationSeconds) < 0.1);
  }
  assert.ok(long.durationSeconds > short.durationSeconds * 2);
});

test('a video composed from a card and narration is an MP4 with video, audio and the narration\'s duration', async () => {
  const card = await renderOfflineCard({ title: 'Role play', instructions: ['A tense office-hours conversation'] });
  const narration = await synthesizeSpeechOffline('A tense office-hours conversation.');
  const mp4 = await composeVideo({ image: card, narration: narration.wav });
  assert.equal(mp4.subarray(4, 8).toString('ascii'), 'ftyp');
  const probed = await probeMedia(mp4);
  assert.ok(probed.hasVideo);
  assert.ok(probed.hasAudio);
  assert.ok(Math.abs(probed.durationSeconds - narration.durationSeconds) < 0.6, `${probed.durationSeconds} vs ${narration.durationSeconds}`);

  const silent = await composeVideo({ image: card, seconds: 2 });
  const silentProbe = await probeMedia(silent);
  assert.ok(silentProbe.hasVideo);
  assert.ok(!silentProbe.hasAudio);
  assert.ok(silentProbe.durationSeconds >= 1.5);
});

test('composing a video stops when its signal aborts (a cancelled run), and a failure names no temporary path', async () => {
  const card = await renderOfflineCard({ title: 'Long wait', instructions: [] });
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(new Error('run cancelled')), 200);
  // An hour of video takes ffmpeg far longer than the generous bound below: only the abort ends it in time.
  await assert.rejects(composeVideo({ image: card, seconds: 3600, signal: controller.signal }), /run cancelled/);
  assert.ok(Date.now() - started < 20_000, 'ffmpeg was stopped');

  await assert.rejects(composeVideo({ image: Buffer.from('not an image at all'), seconds: 1 }), (error: Error) => {
    assert.match(error.message, /^ffmpeg could not compose the video/);
    assert.doesNotMatch(error.message, /glow-video-|-loglevel/);
    return true;
  });
});

test('offline speech runs beside the event loop, not on it: a long text does not hold up timers', async () => {
  await synthesizeSpeechOffline('Warm up.');
  const text = 'The learner waits in the corridor outside the office, unsure what to say first. '.repeat(50);
  let longestGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  try {
    const speech = await synthesizeSpeechOffline(text);
    // Since the last tick too: a timer that never ran during the synthesis waited for all of it.
    longestGap = Math.max(longestGap, performance.now() - last);
    assert.ok(speech.durationSeconds > 60, 'a long text makes long speech');
  } finally {
    clearInterval(ticker);
  }
  const took = performance.now() - started;
  // Compared with the synthesis itself, not a fixed figure: on the main thread the timer would wait for all of it.
  assert.ok(longestGap < took / 2, `a timer waited ${longestGap.toFixed(0)} ms during ${took.toFixed(0)} ms of synthesis`);
});
