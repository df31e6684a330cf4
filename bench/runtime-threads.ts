// Thread budget for the runtime: W workers x T intra-op threads with W*T = cores, measured with the
// in-process ceiling pipeline (sharp decode + letterbox, ORT, decode + NMS) on a model with
// yolov2-tiny-voc's exact layer shapes (random weights) and a real JPEG. Configurations are
// interleaved over several rounds so that background load hits them alike.
//
//   node --import tsx bench/runtime-threads.ts [--seconds 4] [--rounds 2] [--batches 1,4] [--spin on,off,run]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { runCeiling } from '../src/runtime/ceiling.ts';
import { regionManifest, tinyVocNet, writeModel } from '../test/runtime-fixtures.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '2' }, batches: { type: 'string', default: '1,4' }, spin: { type: 'string', default: 'on,off' } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const batches = values.batches.split(',').map(Number);
const spins = values.spin.split(',').map((s) => (s.trim() === 'run' ? 'run' as const : s.trim() === 'on'));

const cores = availableParallelism();
const root = mkdtempSync(join(tmpdir(), 'pinhole-bench-threads-'));
try {
  const dir = writeModel(root, 'tiny-voc-shape', tinyVocNet(416), regionManifest('tiny-voc-shape', 416, 20, 5));
  let image: Uint8Array;
  try {
    image = readFileSync('/usr/share/darknet/data/dog.jpg');
  } catch {
    image = await sharp({ create: { width: 768, height: 576, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
  }
  const plans: Array<[number, number]> = [];
  for (let w = 1; w <= cores; w++) if (cores % w === 0) plans.push([w, cores / w]);
  console.log(`cores ${cores}; plans ${plans.map(([w, t]) => `${w}x${t}`).join(', ')}; batches ${batches.join(',')}; spinning ${values.spin}; ${seconds}s x ${rounds} rounds; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const res = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const b of batches) {
      for (const [w, t] of plans) for (const spin of spins) {
        const c = await runCeiling({ modelDir: dir, images: [image], batch: b, durationMs: seconds * 1000, workers: w, intraOpThreads: t, intraOpSpinning: spin });
        const key = `workers ${w} x threads ${t}, spin ${spin === 'run' ? 'run' : spin ? 'on ' : 'off'}, batch ${b}`;
        res.set(key, [...(res.get(key) ?? []), c.imagesPerSec]);
        console.log(`round ${r + 1}: ${key}: ${c.imagesPerSec.toFixed(1)} images/s (ORT ${c.inferMsPerBatch.toFixed(1)} ms/batch, post ${c.postMsPerBatch.toFixed(2)} ms/batch, decode ${c.decodeMsPerImage.toFixed(1)} ms/image)`);
      }
    }
  }
  console.log(`\nmean images/s (load now ${loadavg()[0].toFixed(2)}):`);
  for (const [k, v] of res) console.log(`  ${k}: ${(v.reduce((a, x) => a + x, 0) / v.length).toFixed(1)}  [${v.map((x) => x.toFixed(1)).join(', ')}]`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
