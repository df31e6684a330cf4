// `pinhole generate MODEL_DIR "TEXT" --out FILE.png [--seed S] [--stage 1|2] [--n N]`
// Offline text to image through the same Runtime path as POST /v1/generate (and, for a wgan model
// folder, unconditional samples as GET /v1/sample: the text is then not used).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { PinholeError } from '../errors.ts';
import { MAX_SAMPLES, MAX_SEED } from '../runtime/generate.ts';
import { Runtime } from '../runtime/runtime.ts';
import { epList } from './detect-options.ts';
import { intOption, UsageError } from './errors.ts';

interface GenerateCliOptions {
  out: string;
  seed?: number;
  stage: number;
  n?: number;
  ep: string[];
}

async function run(modelDir: string, text: string, o: GenerateCliOptions): Promise<void> {
  if (!o.out.toLowerCase().endsWith('.png')) throw new UsageError(`--out must name a .png file, got "${o.out}"`);
  const dir = resolve(modelDir);
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new Error(`no model folder at ${modelDir}`);
  const name = basename(dir);
  // one image: the Winograd rewrite's one-off cost at load would outweigh what it saves (see detect.ts)
  const rt = await Runtime.create({ modelsDir: dirname(dir), only: [name], eps: o.ep, maxBatch: 1, batchDelayMs: 0, warmup: false, winograd: false });
  try {
    const info = rt.model(name)!;
    if (info.status !== 'ready') throw new Error(`model ${modelDir} failed to load: ${info.error}`);
    let img;
    try {
      // which of the two doors by the folder's kind; the door then checks the rest (a detector folder
      // gets text-to-image's "needs a stackgan model")
      if (info.kind === 'wgan') {
        if (text.trim()) process.stderr.write(`pinhole: ${name} is an unconditional (wgan) model; the text is not used\n`);
        img = await rt.runSample(rt.resolveSample(name, { seed: o.seed, n: o.n }));
      } else {
        if (o.n !== undefined && info.kind === 'stackgan') throw new UsageError('--n is for wgan models (a stackgan model makes one image per text)');
        img = await rt.runGenerate(rt.resolveGenerate(name, { text, seed: o.seed, stage: o.stage as 1 | 2 }));
      }
    } catch (e) {
      if (e instanceof PinholeError && e.status === 400) throw new UsageError(e.message);
      throw e;
    }
    const out = resolve(o.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, img.png);
    process.stdout.write(`wrote ${o.out} (seed ${img.seed})\n`);
  } finally {
    await rt.close();
  }
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('text to image offline with a stackgan model folder (a wgan folder gives unconditional samples)')
    .argument('<model_dir>', 'model folder (model.onnx + model.json)')
    .argument('<text>', 'the caption, e.g. "a red circle in the top left"')
    .requiredOption('--out <file.png>', 'where to write the PNG')
    .option('--seed <s>', `noise seed, integer in [0, ${MAX_SEED}] (default: random, printed)`, intOption('--seed', 0, MAX_SEED))
    .option('--stage <k>', 'StackGAN stage: 1 (low resolution) or 2', intOption('--stage', 1, 2), 2)
    .option('--n <count>', `wgan only: number of samples, tiled in a grid (1..${MAX_SAMPLES})`, intOption('--n', 1, MAX_SAMPLES))
    .option('--ep <list>', 'execution providers in order of preference', epList, ['cpu'])
    .action((modelDir: string, text: string, o: GenerateCliOptions) => run(modelDir, text, o));
}
