// `pinhole detect clip.mp4` (ffmpeg decodes to raw RGB, frames go to the runtime as pixels) against the same
// frames fed as individual JPEG files (read + decoded by sharp), through one Runtime, the same model and the
// same number of frames in flight. Prints frames/s of each and the ratio, measured in one run (alternating
// rounds, so machine load hits both alike).
//
//   node --import tsx bench/video.ts [--model models/yolov2-synth] [--frames 120] [--size 640x480] [--rounds 2]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { detectVideo } from '../src/cli/video.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { clipFrames, hasFfmpeg, writeClip } from '../test/helpers/clip.ts';
import { loadAverage } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yolov2-synth' },
    frames: { type: 'string', default: '120' },
    size: { type: 'string', default: '640x480' },
    rounds: { type: 'string', default: '2' },
  },
});

if (!hasFfmpeg()) {
  console.error('bench/video: ffmpeg not found on PATH: install it (Debian/Ubuntu: apt-get install ffmpeg)');
  process.exit(1);
}
const [width, height] = o.size.split('x').map(Number);
const n = Number(o.frames);
const dir = resolve(o.model);
const name = basename(dir);
const tmp = mkdtempSync(join(tmpdir(), 'pinhole-bench-video-'));
const clip = { frames: n, width, height, fps: 25, hold: 5 };
const frames = clipFrames(clip);
const video = join(tmp, 'clip.mp4');
await writeClip(video, frames, clip);
const jpegs: string[] = [];
for (const [i, f] of frames.entries()) {
  const file = join(tmp, `frame-${String(i).padStart(5, '0')}.jpg`);
  writeFileSync(file, await sharp(f.rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  jpegs.push(file);
}

const rt = await Runtime.create({ modelsDir: dirname(dir), only: [name], batchDelayMs: 0 });
const window = 2 * (rt.model(name)?.maxBatch ?? 4);
const sink = new Writable({ write(_c, _e, cb) { cb(); } });

interface Run { fps: number; decodeMs: number }

async function viaVideo(): Promise<Run> {
  const s = await detectVideo(rt, rt.resolveDetect(name), video, { window }, sink);
  if (s.frames !== n) throw new Error(`video path saw ${s.frames} frames, expected ${n}`);
  return { fps: s.fps, decodeMs: s.decodeMs };
}

/** As `pinhole detect MODEL frames/*.jpg` does it, with the video path's number of frames in flight. */
async function viaJpegs(): Promise<Run> {
  const t0 = performance.now();
  let decodeMs = 0;
  const inFlight: Array<Promise<unknown>> = [];
  for (const file of jpegs) {
    inFlight.push(rt.detect(name, readFileSync(file)).then((r) => { decodeMs += r.timing_ms.decode; }));
    if (inFlight.length >= window) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return { fps: n / ((performance.now() - t0) / 1000), decodeMs: decodeMs / n };
}

console.log(`bench/video: ${name}, ${n} frames ${width}x${height} (H.264 clip vs JPEG q90 files), ${window} frames in flight, `
  + `${rt.threads.workers} worker(s) x ${rt.threads.intraOpThreads} thread(s); load average ${loadAverage()}`);
await viaJpegs(); // warm-up: ORT's first batches of each size, sharp's first decode
const v: Run[] = [], j: Run[] = [];
for (let r = 0; r < Number(o.rounds); r++) {
  v.push(await viaVideo());
  j.push(await viaJpegs());
  console.log(`  round ${r + 1}: video ${v[r].fps.toFixed(1)} frames/s, JPEG files ${j[r].fps.toFixed(1)} frames/s`);
}
const mean = (a: Run[], k: keyof Run) => a.reduce((s, x) => s + x[k], 0) / a.length;
console.log(`video (ffmpeg -> raw RGB -> runtime): ${mean(v, 'fps').toFixed(1)} frames/s, runtime decode ${mean(v, 'decodeMs').toFixed(1)} ms/frame`);
console.log(`same frames as JPEG files:           ${mean(j, 'fps').toFixed(1)} frames/s, runtime decode ${mean(j, 'decodeMs').toFixed(1)} ms/frame`);
console.log(`ratio video / JPEG files: ${(mean(v, 'fps') / mean(j, 'fps')).toFixed(2)} frames/s, `
  + `${(mean(v, 'decodeMs') / mean(j, 'decodeMs')).toFixed(2)} decode time  (load average after: ${loadAverage()})`);
await rt.close();
rmSync(tmp, { recursive: true, force: true });
