// The full-size JPEG decode alone: sharp (libvips + its mozjpeg, with preprocess' options: failOn 'warning',
// ignoreIcc, autoOrient, sRGB, one libvips thread, no cache) against libjpeg-turbo's TurboJPEG through koffi
// (src/runtime/jpeg-turbo.ts, on libuv's pool, into the reused buffer of its handle's slot), alternating call by call in this process: wall p50 and the
// process's CPU (all threads) per decode, and the pixels compared.
//
//   node --import tsx bench/jpeg-decode.ts [--rounds 5] [--n 40]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { describeJpegDecoder, jpegDecoder, withTurboRgb } from '../src/runtime/jpeg-turbo.ts';
import '../src/runtime/preprocess.ts'; // sharp's settings as the server has them (concurrency 1, no cache)
import { loadAverage } from './server-child.ts';

const { values: o } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, n: { type: 'string', default: '40' } } });
const rounds = Number(o.rounds), n = Number(o.n);
const decoder = await jpegDecoder();
if (decoder.kind !== 'turbo') throw new Error(`${describeJpegDecoder(decoder)}: nothing to compare`);
const dog = readFileSync('/usr/share/darknet/data/dog.jpg');
const cases: Array<{ name: string; bytes: Buffer; width: number; height: number }> = [
  { name: 'dog.jpg 768x576', bytes: dog, width: 768, height: 576 },
  // bench/ws.ts's camera frame: dog.jpg resized to 640x480, JPEG q90
  { name: 'frame 640x480 q90', bytes: await sharp(dog).resize(640, 480, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer(), width: 640, height: 480 },
  { name: 'JPEG 1280x960 q90', bytes: await sharp(dog).resize(1280, 960, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer(), width: 1280, height: 960 },
];

const viaSharp = (b: Buffer) => sharp(b, { failOn: 'warning', autoOrient: true, ignoreIcc: true }).removeAlpha().toColourspace('srgb').raw().toBuffer();
// the pixels as preprocess gets them: in the decoding slot's buffer, read before the next decode; copied once
// here only for the comparison
const viaTurbo = async (c: (typeof cases)[number], keep = false) => {
  const r = await withTurboRgb(c.bytes, c.width, c.height, 40_000_000, (px) => (keep ? Uint8Array.from(px) : px[0]));
  if (!r) throw new Error(`${c.name}: libjpeg-turbo left it to sharp`);
  return r.value;
};
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

console.log(`jpeg-decode: ${describeJpegDecoder(decoder)}; ${rounds * n} decodes each, alternating; load ${loadAverage()}`);
console.log(`${'picture'.padEnd(20)} ${'sharp wall p50 / CPU ms'.padStart(24)} ${'turbo wall p50 / CPU ms'.padStart(24)}  CPU ratio  max |diff|`);
for (const c of cases) {
  const a = await viaSharp(c.bytes), b = (await viaTurbo(c, true)) as Uint8Array;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  const variants = { sharp: () => viaSharp(c.bytes), turbo: () => viaTurbo(c) };
  const t = { sharp: { wall: [] as number[], cpu: 0 }, turbo: { wall: [] as number[], cpu: 0 } };
  for (let i = 0; i < 5; i++) for (const f of Object.values(variants)) await f();
  // one decode of each a turn, the order flipped every turn: the machine's load drifts alike over both
  for (let i = 0; i < rounds * n; i++) {
    for (const k of (i % 2 ? ['turbo', 'sharp'] : ['sharp', 'turbo']) as Array<keyof typeof variants>) {
      const c0 = process.cpuUsage(), t0 = performance.now();
      await variants[k]();
      t[k].wall.push(performance.now() - t0);
      const u = process.cpuUsage(c0);
      t[k].cpu += (u.user + u.system) / 1000 / (rounds * n);
    }
  }
  const f = (k: keyof typeof t) => `${med(t[k].wall).toFixed(2)} / ${t[k].cpu.toFixed(2)}`;
  console.log(`${c.name.padEnd(20)} ${f('sharp').padStart(24)} ${f('turbo').padStart(24)}  ${(t.sharp.cpu / t.turbo.cpu).toFixed(2).padStart(8)}x  ${diff}`);
}
console.log(`load after: ${loadAverage()}`);
