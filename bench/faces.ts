// Pinhole's tiny-face against face-api itself, per image, in one run on the same images:
//   node --import tsx bench/faces.ts [--model models/tiny-face] [--rounds 7] [--order blocks|images] [--workers N] [--threads N] [--spin on|off]
// Pinhole: Runtime.detect in this process on the file's bytes (sharp decode, pad-square + bilinear-tf,
// ONNX Runtime in a worker, region decode + NMS), one request at a time. face-api: its own
// detectAllFaces(TinyFaceDetectorOptions) on its tfjs-wasm Node build at the model's input size, given
// the image already decoded (as a tensor of the same sharp-decoded RGB pixels): its time has no image
// decode, Pinhole's has. Rounds alternate the two, so both see the same machine load. Per image: the
// median wall-clock ms and the median CPU ms (process.cpuUsage, all threads of this process: on a
// machine shared with other work, wall time also measures the scheduler's queue at every thread hop).
// Images: astronaut.png, messi5.jpg, basketball1.png and 10 frames of Megamind.avi (python3-skimage,
// opencv-doc, ffmpeg), as test/faceapi-conformance.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
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
  },
});

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
  const bytes = files.map((f) => readFileSync(f));

  const rt = await Runtime.create({
    modelsDir: dir, maxBatch: 1, warmup: true, log: { info() {}, warn() {}, error() {} },
    ...(o.workers ? { workers: Number(o.workers) } : {}), ...(o.threads ? { intraOpThreads: Number(o.threads) } : {}),
    ...(o.spin ? { intraOpSpinning: o.spin === 'on' } : {}),
  });
  const fa = await loadFaceApi();
  const decoded = await Promise.all(files.map((f) => decodeRgb(f)));
  let lastInfer = 0;
  const pinhole = async (i: number) => {
    const r = await rt.detect(name, bytes[i]);
    lastInfer = r.timing_ms.infer;
    return r.detections.length;
  };
  // the pad-square + bilinear-tf sampling alone, on the decoded pixels (inside Pinhole's time)
  const sample = (i: number) => {
    const { data, width, height } = decoded[i];
    const side = Math.max(width, height);
    resampleBilinear({ pixels: data, width, height, channels: 3, canvasW: side, canvasH: side, left: 0, top: 0, padValue: manifest.pad_value ?? 0 },
      { out: new Float32Array(3 * size * size), netW: size, netH: size, dx: 0, dy: 0, outW: size, outH: size, mean: manifest.mean, std: manifest.std });
  };
  const faceapi = async (i: number) => (await faceApiDetect(fa, decoded[i], size)).length;
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // warm-up: JIT, wasm kernels, ORT arenas
  for (let i = 0; i < files.length; i++) { await pinhole(i); await faceapi(i); }

  const times = files.map(() => ({ p: [] as number[], f: [] as number[], pc: [] as number[], fc: [] as number[], dec: [] as number[], smp: [] as number[], inf: [] as number[], faces: [0, 0] }));
  // --order images (default): the two sides alternate on every image, so each runs right after the other's
  // work (caches and ORT's sleeping threads cold). --order blocks: per round, one side runs all the images,
  // then the other (the side going first alternates by round), as each would serve a stream of images.
  const one = async (side: 'p' | 'f', i: number) => {
    const c0 = cpu(), t0 = performance.now();
    const n = side === 'p' ? await pinhole(i) : await faceapi(i);
    times[i][side].push(performance.now() - t0);
    times[i][side === 'p' ? 'pc' : 'fc'].push(cpu() - c0);
    times[i].faces[side === 'p' ? 0 : 1] = n;
    if (side === 'p') times[i].inf.push(lastInfer);
  };
  const alone = async (i: number) => {
    const t0 = performance.now();
    await decodeRgb(files[i]);
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
  await rt.close();

  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`faces bench: ${name} at ${size}px vs face-api ${fa.api.version} (tfjs ${fa.tf.version_core}, backend ${fa.tf.getBackend()}), ` +
    `${rounds} rounds (order: ${o.order}), ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
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
  console.log(`target: face-api / pinhole >= 5x per image. Inside Pinhole's time: decode ms (sharp's decode of the file alone, not in face-api's), ` +
    `sample ms (pad-square + bilinear-tf sampling to the input, WebAssembly), infer ms (ONNX Runtime, the response's timing_ms.infer).`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
