// Writes one generated scene of the detection stream as a PNG and lists its objects (ground truth):
//   node --import tsx scripts/example-image.ts --seed 999 --index 3 --out examples/shapes.png
// examples/shapes.png is made this way. Seed 999 is the held-out set the shipped detectors are evaluated
// on (`--val synth:999:N`) and never trained on (their training data is seed 1), so it shows what a
// detector sees on a new image rather than one it memorised.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { encodePng } from '../src/train/data/image.ts';
import { synthScene } from '../src/train/data/synth.ts';

function nonNegativeInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got "${raw}"`);
  return n;
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    index: { type: 'string' },
    size: { type: 'string' },
    out: { type: 'string' },
  },
});
if (!values.out) throw new Error('--out FILE.png is required');
const seed = nonNegativeInt('--seed', values.seed, 999);
const index = nonNegativeInt('--index', values.index, 0);
// 256 is the size `synth:SEED:COUNT` draws by default, i.e. the size the evaluation figures are for.
const size = nonNegativeInt('--size', values.size, 256);

const scene = synthScene(seed, index, { width: size, height: size });
await mkdir(dirname(values.out), { recursive: true });
await writeFile(values.out, await encodePng(scene.rgb, scene.width, scene.height));
process.stdout.write(`wrote ${values.out} (${scene.width}x${scene.height}, synth seed ${seed} index ${index}): ${scene.caption}\n`);
for (const o of scene.objects) {
  const b = o.box;
  process.stdout.write(`  ${o.name} (${o.colour}, visible ${(o.visible * 100).toFixed(0)}%): ${b.x1},${b.y1} - ${b.x2},${b.y2}\n`);
}
