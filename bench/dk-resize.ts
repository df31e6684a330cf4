// darknet's resampling (resample: bilinear-darknet: sharp's full-size decode + src/vision/resample-darknet.ts)
// against sharp's decode + cubic resize (resample: cubic), the whole of preprocess() in this process,
// alternating call by call, on pictures from stream-frame size to a 12 MP photo: wall p50 and the process's CPU
// (all threads: libvips' and libuv's included) per picture. What decides the default's rule for big JPEGs
// (preprocess.ts exactDarknet). Also the sampler alone on a decoded dog.jpg.
//
//   node --import tsx bench/dk-resize.ts [--rounds 5] [--n 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { InputSpec } from '../src/manifest.ts';
import { exactDarknet, preprocess, type Resample } from '../src/runtime/preprocess.ts';
import { pasteGeometry } from '../src/vision/letterbox.ts';
import { resampleDarknet, resampleDarknetJs } from '../src/vision/resample-darknet.ts';
import { loadAverage } from './server-child.ts';

const { values: o } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, n: { type: 'string', default: '30' } } });
const rounds = Number(o.rounds), n = Number(o.n);
const dog = readFileSync('/usr/share/darknet/data/dog.jpg');
const jpeg = (w: number, h: number) => sharp(dog).resize(w, h, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
const net = (s: number): InputSpec => ({ width: s, height: s, channels: 3, layout: 'NCHW' });
const cases: Array<{ name: string; bytes: Buffer; spec: InputSpec }> = [
  { name: 'dog.jpg 768x576 -> 416', bytes: dog, spec: net(416) },
  { name: 'frame 640x480 q90 -> 320', bytes: await jpeg(640, 480), spec: net(320) },
  { name: 'frame 640x480 PNG -> 320', bytes: await sharp(dog).resize(640, 480, { fit: 'fill' }).png().toBuffer(), spec: net(320) },
  { name: 'kite.jpg 1352x900 -> 416', bytes: readFileSync('/usr/share/darknet/data/kite.jpg'), spec: net(416) },
  { name: 'JPEG 1000x750 -> 416 (2.4x)', bytes: await jpeg(1000, 750), spec: net(416) },
  { name: 'JPEG 1280x960 -> 416 (3.1x)', bytes: await jpeg(1280, 960), spec: net(416) },
  { name: 'JPEG 1920x1080 -> 416 (4.6x)', bytes: await jpeg(1920, 1080), spec: net(416) },
  { name: 'JPEG 4000x3000 -> 416 (9.6x)', bytes: await jpeg(4000, 3000), spec: net(416) },
  { name: 'WebP 768x576 -> 416', bytes: await sharp(dog).webp({ quality: 90 }).toBuffer(), spec: net(416) },
  { name: 'WebP 320x240 -> 416 (upscaled)', bytes: await sharp(dog).resize(320, 240, { fit: 'fill' }).webp({ quality: 90 }).toBuffer(), spec: net(416) },
];
const variants: Resample[] = ['cubic', 'bilinear-darknet'];
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`dk-resize: preprocess() letterbox, cubic against bilinear-darknet, ${rounds * n} calls each, alternating; load ${loadAverage()}`);
console.log(`${'picture'.padEnd(30)} ${'cubic wall / CPU ms'.padStart(20)} ${'darknet wall / CPU ms'.padStart(22)}  default`);
for (const c of cases) {
  const tensor = new Float32Array(3 * c.spec.width * c.spec.height);
  const t = new Map(variants.map((v) => [v, { wall: [] as number[], cpu: 0 }]));
  const run = (v: Resample) => preprocess(c.bytes, c.spec, { mode: 'letterbox', resample: v }, { alloc: () => tensor });
  for (const v of variants) for (let i = 0; i < 3; i++) await run(v);
  // one call of each a turn, the order flipped every turn: the machine's load drifts alike over both
  for (let i = 0; i < rounds * n; i++) {
    for (const v of i % 2 ? [...variants].reverse() : variants) {
      const s = t.get(v)!;
      const c0 = process.cpuUsage(), t0 = performance.now();
      await run(v);
      s.wall.push(performance.now() - t0);
      const u = process.cpuUsage(c0);
      s.cpu += (u.user + u.system) / 1000 / (rounds * n);
    }
  }
  const meta = await sharp(c.bytes).metadata();
  const g = pasteGeometry('letterbox', meta.width, meta.height, c.spec.width, c.spec.height);
  const dflt = exactDarknet(undefined, { width: meta.width, height: meta.height, format: meta.format }, g) ? 'darknet' : 'cubic';
  const f = (v: Resample) => `${med(t.get(v)!.wall).toFixed(2)} / ${t.get(v)!.cpu.toFixed(2)}`;
  console.log(`${c.name.padEnd(30)} ${f('cubic').padStart(20)} ${f('bilinear-darknet').padStart(22)}  ${dflt}`);
}

// the sampler alone: dog.jpg decoded, to 416x312 in a 416x416 input
const { data, info } = await sharp(dog).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const src = { pixels: data, width: info.width, height: info.height, channels: 3 };
const dst = { out: new Float32Array(3 * 416 * 416), netW: 416, netH: 416, dx: 0, dy: 52, outW: 416, outH: 312, mean: [0, 0, 0], std: [255, 255, 255] };
for (const [name, fn] of [['WebAssembly', resampleDarknet], ['JavaScript reference', resampleDarknetJs]] as const) {
  for (let i = 0; i < 5; i++) fn(src, dst);
  const times: number[] = [];
  for (let i = 0; i < 5 * n; i++) {
    const t0 = performance.now();
    fn(src, dst);
    times.push(performance.now() - t0);
  }
  console.log(`sampler alone, dog.jpg 768x576 -> 416x312, ${name}: p50 ${med(times).toFixed(3)} ms`);
}
