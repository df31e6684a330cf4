// Pinhole's tiny-face against face-api itself, per image, in one run on the same images:
//   node --import tsx bench/faces.ts [--model models/tiny-face] [--rounds 7] [--order images|blocks]
//     [--processes one|two] [--workers N] [--threads N] [--spin on|off|run]
// Pinhole: Runtime.detect in this process on the file's bytes (decode: @napi-rs/image for a plain PNG, sharp otherwise; pad-square + bilinear-tf,
// ONNX Runtime in a worker, region decode + NMS), one request at a time. face-api: its own
// detectAllFaces(TinyFaceDetectorOptions) on its tfjs-wasm Node build at the model's input size, given
// the image already decoded (as a tensor of the same sharp-decoded RGB pixels): its time has no image
// decode, Pinhole's has. Rounds alternate the two, so both see the same machine load. Per image: the
// median wall-clock ms and the median CPU ms (process.cpuUsage, all threads of this process: on a
// machine shared with other work, wall time also measures the scheduler's queue at every thread hop).
// --processes two runs each side in a child process of its own (this script with --side), driven image by
// image over IPC in the same order: in one process the two frameworks share V8's garbage collector and
// helper threads, so one side's garbage can be collected during the other's timing.
// Images: astronaut.png, messi5.jpg, basketball1.png and 10 frames of Megamind.avi (python3-skimage,
// opencv-doc, ffmpeg), as test/faceapi-conformance.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pngRgb } from '../src/runtime/png-pixels.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { resampleBilinear } from '../src/vision/resample.ts';
import {
  ASTRONAUT, BASKETBALL, MESSI, decodeRgb, faceApiDetect, loadFaceApi, megamindFrames, missingImages,
} from '../test/helpers/faceapi.ts';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/tiny-face' },
    rounds: { type: 'string', default: '7' },
    workers: { type: 'string' },
    threads: { type: 'string' },
    spin: { type: 'string' },
    order: { type: 'string', default: 'images' },
    processes: { type: 'string', default: 'one' },
    side: { type: 'string' },
  },
});

/** One side's answer for one image: wall and CPU ms of its process (every thread), faces found. */
interface Outcome { ms: number; cpuMs: number; faces: number; infer?: number }
interface Side { run(i: number): Promise<Outcome>; close(): Promise<void> }

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function timed(work: () => Promise<{ faces: number; infer?: number }>): Promise<Outcome> {
  const c0 = cpu(), t0 = performance.now();
  const r = await work();
  return { ms: performance.now() - t0, cpuMs: cpu() - c0, ...r };
}

/** The side in this process, warmed up on every image (JIT, wasm kernels, ORT arenas). */
async function localSide(side: 'p' | 'f', modelsDir: string, name: string, files: string[], size: number): Promise<Side> {
  let s: Side;
  if (side === 'p') {
    const rt = await Runtime.create({
      modelsDir, maxBatch: 1, warmup: true, log: { info() {}, warn() {}, error() {} },
      ...(o.workers ? { workers: Number(o.workers) } : {}), ...(o.threads ? { intraOpThreads: Number(o.threads) } : {}),
      ...(o.spin ? { intraOpSpinning: o.spin === 'run' ? 'run' as const : o.spin === 'on' } : {}),
    });
    const bytes = files.map((f) => readFileSync(f));
    s = {
      run: (i) => timed(async () => {
        const r = await rt.detect(name, bytes[i]);
        return { faces: r.detections.length, infer: r.timing_ms.infer };
      }),
      close: () => rt.close(),
    };
  } else {
    const fa = await loadFaceApi();
    const decoded = await Promise.all(files.map((f) => decodeRgb(f)));
    s = { run: (i) => timed(async () => ({ faces: (await faceApiDetect(fa, decoded[i], size)).length })), close: async () => {} };
  }
  for (let i = 0; i < files.length; i++) await s.run(i);
  return s;
}

/** The side in a child process (this script with --side), asked one image at a time. */
async function childSide(side: 'p' | 'f', modelsDir: string, name: string, files: string[], size: number): Promise<Side> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--side', side, ...process.argv.slice(2).filter((a) => a !== '--side')], {
    execArgv: ['--import', 'tsx'], env: { ...process.env, FACES_BENCH: JSON.stringify({ modelsDir, name, files, size }) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((ok, fail) => {
    child.once('message', () => ok());
    child.once('exit', (code) => fail(new Error(`bench/faces: the ${side} child exited (${code})`)));
  });
  return {
    run: (i) => new Promise((ok) => { child.once('message', (m) => ok(m as Outcome)); child.send({ i }); }),
    close: async () => { child.send({ close: true }); await new Promise((ok) => child.once('exit', ok)); },
  };
}

if (o.side) {
  const { modelsDir, name, files, size } = JSON.parse(process.env.FACES_BENCH!) as { modelsDir: string; name: string; files: string[]; size: number };
  const s = await localSide(o.side as 'p' | 'f', modelsDir, name, files, size);
  process.on('message', async (m: { i?: number; close?: boolean }) => {
    if (m.close) { await s.close(); process.exit(0); }
    process.send!(await s.run(m.i!));
  });
  process.send!({ ready: true });
} else {
  await main();
}

async function main(): Promise<void> {
  const why = missingImages();
  if (why) {
    console.error(`bench/faces: ${why}`);
    process.exit(1);
  }
  const rounds = Number(o.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'pinhole-bench-faces-'));
  try {
    const modelDir = resolve(o.model!);
    const name = basename(modelDir);
    const manifest = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
    const size: number = manifest.input.width;
    symlinkSync(modelDir, join(dir, name), 'dir');
    const files = [ASTRONAUT, MESSI, BASKETBALL, ...megamindFrames(dir, 10, 27)];

    const decoded = await Promise.all(files.map((f) => decodeRgb(f)));
    const make = o.processes === 'two' ? childSide : localSide;
    // one at a time: face-api's wasm and ORT's sessions are not loaded side by side into one start-up
    const sides = { p: await make('p', dir, name, files, size), f: await make('f', dir, name, files, size) };
    const fa = await loadFaceApi();
    // the pad-square + bilinear-tf sampling alone, on the decoded pixels (inside Pinhole's time)
    const sample = (i: number) => {
      const { data, width, height } = decoded[i];
      const side = Math.max(width, height);
      resampleBilinear({ pixels: data, width, height, channels: 3, canvasW: side, canvasH: side, left: 0, top: 0, padValue: manifest.pad_value ?? 0 },
        { out: new Float32Array(3 * size * size), netW: size, netH: size, dx: 0, dy: 0, outW: size, outH: size, mean: manifest.mean, std: manifest.std });
    };

    const times = files.map(() => ({ p: [] as number[], f: [] as number[], pc: [] as number[], fc: [] as number[], dec: [] as number[], smp: [] as number[], inf: [] as number[], faces: [0, 0] }));
    // --order images (default): the two sides alternate on every image, so each runs right after the other's
    // work (caches and ORT's sleeping threads cold). --order blocks: per round, one side runs all the images,
    // then the other (the side going first alternates by round), as each would serve a stream of images.
    const one = async (side: 'p' | 'f', i: number) => {
      const r = await sides[side].run(i);
      times[i][side].push(r.ms);
      times[i][side === 'p' ? 'pc' : 'fc'].push(r.cpuMs);
      times[i].faces[side === 'p' ? 0 : 1] = r.faces;
      if (side === 'p') times[i].inf.push(r.infer!);
    };
    const bytes = files.map((f) => readFileSync(f));
    // the decode Pinhole's preprocess does for a lone request: a plain PNG without libvips on this thread (png-pixels.ts),
    // anything else with sharp
    const decode = async (i: number) => (await pngRgb(bytes[i], decoded[i].width, decoded[i].height, true)) ?? (await decodeRgb(files[i])).data;
    const alone = async (i: number) => {
      const t0 = performance.now();
      await decode(i);
      times[i].dec.push(performance.now() - t0);
      const t1 = performance.now();
      sample(i);
      times[i].smp.push(performance.now() - t1);
    };
    for (let r = 0; r < rounds; r++) {
      const sides = r % 2 === 0 ? ['p', 'f'] as const : ['f', 'p'] as const;
      if (o.order === 'images') {
        for (let i = 0; i < files.length; i++) {
          for (const side of sides) await one(side, i);
          await alone(i);
        }
      } else {
        for (const side of sides) for (let i = 0; i < files.length; i++) await one(side, i);
        for (let i = 0; i < files.length; i++) await alone(i);
      }
    }
    await sides.p.close();
    await sides.f.close();

    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    console.log(`faces bench: ${name} at ${size}px vs face-api ${fa.api.version} (tfjs ${fa.tf.version_core}, backend ${fa.tf.getBackend()}), ` +
      `${rounds} rounds (order: ${o.order}, ${o.processes === 'two' ? 'each side in its own process' : 'both in this process'}), ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const head = ['image', 'size', 'faces', 'pinhole ms', 'face-api ms', 'ratio', 'pinhole cpu', 'face-api cpu', 'ratio', 'decode ms', 'sample ms', 'infer ms'];
    const w = [18, 9, 6, 10, 11, 6, 11, 12, 6, 9, 9, 8];
    const row = (cells: string[]) => cells.map((c, k) => (k < 3 ? c.padEnd(w[k]) : c.padStart(w[k]))).join(' ');
    console.log(row(head));
    const sum = { p: 0, f: 0, pc: 0, fc: 0, dec: 0, smp: 0, inf: 0 };
    for (const [i, f] of files.entries()) {
      const t = times[i];
      const m = { p: med(t.p), f: med(t.f), pc: med(t.pc), fc: med(t.fc), dec: med(t.dec), smp: med(t.smp), inf: med(t.inf) };
      for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += m[k];
      const faces = t.faces[0] === t.faces[1] ? String(t.faces[0]) : `${t.faces[0]}/${t.faces[1]}`;
      console.log(row([basename(f), `${decoded[i].width}x${decoded[i].height}`, faces, m.p.toFixed(1), m.f.toFixed(1), `${(m.f / m.p).toFixed(1)}x`,
        m.pc.toFixed(1), m.fc.toFixed(1), `${(m.fc / m.pc).toFixed(1)}x`, m.dec.toFixed(1), m.smp.toFixed(1), m.inf.toFixed(1)]));
    }
    console.log(row(['all (sum of medians)', '', '', sum.p.toFixed(1), sum.f.toFixed(1), `${(sum.f / sum.p).toFixed(1)}x`,
      sum.pc.toFixed(1), sum.fc.toFixed(1), `${(sum.fc / sum.pc).toFixed(1)}x`, sum.dec.toFixed(1), sum.smp.toFixed(1), sum.inf.toFixed(1)]));
    console.log(`target: face-api / pinhole >= 5x per image. Inside Pinhole's time: decode ms (Pinhole's decode of the file alone, not in face-api's: ` +
      `@napi-rs/image for a plain PNG, sharp otherwise), ` +
      `sample ms (pad-square + bilinear-tf sampling to the input, WebAssembly), infer ms (ONNX Runtime, the response's timing_ms.infer).`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
