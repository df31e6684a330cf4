// darknet's resize alone (src/vision/resample-darknet.ts), this checkout's against another checkout's (e.g. main
// before the row loop moved into WebAssembly), in one process, alternating call by call so that the machine's
// load drifts alike over both: wall p50 and CPU per call, on decoded pixels (no JPEG decode). Each variant's
// output is checked equal to the other's first, float for float.
//
//   node --import tsx bench/dk-loop.ts --old /path/to/other/checkout [--rounds 5] [--n 200] [--window BYTES]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { resampleDarknet, type PixelSource } from '../src/vision/resample-darknet.ts';
import type { SampleTarget } from '../src/vision/resample.ts';
import { loadAverage } from './server-child.ts';

const { values: o } = parseArgs({ options: { old: { type: 'string' }, rounds: { type: 'string', default: '5' }, n: { type: 'string', default: '200' }, window: { type: 'string' } } });
if (!o.old) throw new Error('--old DIR: the checkout to compare with');
const rounds = Number(o.rounds), n = Number(o.n);
const other = (await import(resolve(o.old, 'src/vision/resample-darknet.ts'))) as { resampleDarknet: typeof resampleDarknet };
const dog = readFileSync('/usr/share/darknet/data/dog.jpg');

async function decoded(w: number, h: number): Promise<PixelSource> {
  const p = w === 768 && h === 576 ? sharp(dog) : sharp(dog).resize(w, h, { fit: 'fill' });
  const { data, info } = await p.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height, channels: 3 };
}

const letterbox = (net: number, w: number, h: number): Omit<SampleTarget, 'out'> =>
  ({ netW: net, netH: net, dx: (net - w) >> 1, dy: (net - h) >> 1, outW: w, outH: h, mean: [0, 0, 0], std: [255, 255, 255] });
const cases = [
  { name: 'frame 640x480 -> 320x240', src: await decoded(640, 480), t: letterbox(320, 320, 240) },
  { name: 'dog.jpg 768x576 -> 416x312', src: await decoded(768, 576), t: letterbox(416, 416, 312) },
  { name: '1280x960 -> 416x312', src: await decoded(1280, 960), t: letterbox(416, 416, 312) },
  { name: '576x768 -> 312x416 (portrait)', src: await decoded(576, 768), t: letterbox(416, 312, 416) },
];
const windowBytes = o.window ? Number(o.window) : undefined;
const variants = [['old', other.resampleDarknet], ['new', (s: PixelSource, t: SampleTarget) => resampleDarknet(s, t, windowBytes)]] as const;
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

console.log(`dk-loop: darknet's resize alone, old = ${o.old}, new = this checkout${windowBytes ? ` (windows of ${windowBytes} bytes)` : ''}; ${rounds * n} calls each, alternating; load ${loadAverage()}`);
console.log(`${'picture'.padEnd(30)} ${'old wall p50 / CPU ms'.padStart(22)} ${'new wall p50 / CPU ms'.padStart(22)}  CPU new/old`);
for (const c of cases) {
  const outs = variants.map(() => new Float32Array(3 * c.t.netW * c.t.netH));
  variants.forEach(([, fn], i) => fn(c.src, { ...c.t, out: outs[i] }));
  for (let i = 0; i < outs[0].length; i++) {
    if (!Object.is(outs[0][i], outs[1][i])) throw new Error(`${c.name}: value ${i} differs, ${outs[0][i]} (old) vs ${outs[1][i]} (new)`);
  }
  const stats = variants.map(() => ({ wall: [] as number[], cpu: 0 }));
  for (let i = 0; i < rounds * n; i++) {
    for (const v of i % 2 ? [1, 0] : [0, 1]) {
      const dst = { ...c.t, out: outs[v] };
      const c0 = process.cpuUsage(), t0 = performance.now();
      variants[v][1](c.src, dst);
      stats[v].wall.push(performance.now() - t0);
      const u = process.cpuUsage(c0);
      stats[v].cpu += (u.user + u.system) / 1000 / (rounds * n);
    }
  }
  const f = (v: number) => `${med(stats[v].wall).toFixed(3)} / ${stats[v].cpu.toFixed(3)}`;
  console.log(`${c.name.padEnd(30)} ${f(0).padStart(22)} ${f(1).padStart(22)}  ${(stats[1].cpu / stats[0].cpu).toFixed(2)}`);
}
console.log(`load ${loadAverage()}`);
