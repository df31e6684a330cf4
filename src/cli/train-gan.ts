// `pinhole train wgan | stackgan`: their flags, the run folder and the progress display, turned into the
// typed options of src/train/gan (the training code loads only when a command runs).
import path from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { intOption, numberOption, UsageError } from './errors.ts';
import { addFlags, runFlags as f, type TrainCommand } from './train-flags.ts';

type Progress = (phase: string, s: number, total: number, info: string) => void;

function defaultRunDir(out: string): string {
  return path.join('runs', path.basename(path.resolve(out)));
}

function logger(runDir: string): { log: (l: string) => void; progress: Progress; stop: () => void } {
  // a progress bar on a terminal, plain lines otherwise (logs of background runs)
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  let barPhase = '';
  let lastLine = 0;
  return {
    log(l) {
      bar?.stop();
      bar = undefined;
      process.stderr.write(`[${new Date().toISOString().slice(0, 19)}] ${l}\n`);
    },
    progress(phase, s, total, info) {
      if (tty) {
        if (!bar || barPhase !== phase) {
          bar?.stop();
          bar = new SingleBar({ format: `${phase} [{bar}] {value}/{total} | ETA {eta_formatted} | {info}`, hideCursor: true });
          bar.start(total, s, { info });
          barPhase = phase;
        }
        bar.update(s, { info });
      } else if (Date.now() - lastLine > 20_000 || s === total) {
        lastLine = Date.now();
        process.stderr.write(`[${new Date().toISOString().slice(0, 19)}] ${phase} ${s}/${total} ${info} (run dir ${runDir})\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Flags of a run's folder and checkpoints, common to both trainers; `unit` is what they count. */
function runFolderFlags(cmd: Command, unit: { steps: string; ckptEvery: number; samples: string }): Command {
  return addFlags(cmd.option('--name <name>', 'model name in model.json (default: the folder name)'),
    f.ckptDir(`checkpoints, logs and ${unit.samples} (default runs/<out name>)`),
    f.ckptEvery(unit.steps, unit.ckptEvery),
    f.resume('--ckpt-dir'),
    f.maxSteps(unit.steps));
}

interface Run {
  out: string;
  runDir: string;
  name: string;
  resume: boolean;
  maxSteps: number | undefined;
  ckptEvery: number;
  log: (l: string) => void;
  progress: Progress;
}

/** Runs `train` with the run's folder, name and logger taken from the flags of runFolderFlags. */
async function withRun(raw: Record<string, unknown>, train: (r: Run) => Promise<unknown>): Promise<void> {
  const out = raw.out as string;
  const runDir = (raw.ckptDir as string | undefined) ?? defaultRunDir(out);
  const l = logger(runDir);
  try {
    await train({
      out, runDir, name: (raw.name as string | undefined) ?? path.basename(path.resolve(out)), resume: raw.resume === true,
      maxSteps: raw.maxSteps as number | undefined, ckptEvery: raw.ckptEvery as number, log: l.log, progress: l.progress,
    });
  } finally {
    l.stop();
  }
}

function redoList(raw: string): Array<'stage2' | 'judge'> {
  const v = raw.split(',').map((s) => s.trim());
  const bad = v.find((p) => p !== 'stage2' && p !== 'judge');
  if (bad !== undefined) throw new UsageError(`--redo takes stage2 and/or judge, got "${bad}"`);
  return v as Array<'stage2' | 'judge'>;
}

const stackgan: TrainCommand = {
  name: 'stackgan',
  description: 'StackGAN (Zhang et al. 2017): SELU text encoder, conditioning augmentation, Stage-I 16x16 and Stage-II 64x64 GANs on caption scenes',
  flags: (cmd) => runFolderFlags(addFlags(cmd, f.seed('data, weights order and noise'), f.pool(6000))
    .option('--text-steps <n>', 'text encoder pre-training steps', intOption('--text-steps', 0, 1e9), 600)
    .option('--stage1-steps <n>', 'Stage-I iterations', intOption('--stage1-steps', 0, 1e9), 3000)
    .option('--stage2-steps <n>', 'Stage-II iterations', intOption('--stage2-steps', 0, 1e9), 3000)
    .option('--judge-steps <n>', 'attribute judge training steps (for the evaluation)', intOption('--judge-steps', 0, 1e9), 1500)
    .option('--eval <n>', 'held-out captions evaluated', intOption('--eval', 1, 100_000), 400)
    .addOption(f.batch('Stage-I batch', 32))
    .addOption(f.batch('Stage-II batch', 16, '--batch2'))
    .addOption(f.lr('Adam learning rate (both stages, beta1 .5)', 2e-4))
    .option('--joint-d-batch', 'run each discriminator on one joint batch of real, mismatched and generated images (shared batch-norm statistics) instead of once per group'),
  { steps: 'optimizer steps', ckptEvery: 250, samples: 'sample previews' })
    .option('--redo <phases>', 'with --resume: stage2 (continue Stage-II to a larger --stage2-steps) and/or judge (train a fresh judge), comma list', redoList),
  async run(raw, given) {
    const [{ initBackend }, { trainStackGan }, { DEFAULT_CONFIG }] = await Promise.all([
      import('../train/backend.ts'), import('../train/gan/stackgan/train.ts'), import('../train/gan/stackgan/config.ts'),
    ]);
    await initBackend();
    await withRun(raw, (r) => trainStackGan({
      out: r.out, runDir: r.runDir, name: r.name, resume: r.resume, maxSteps: r.maxSteps, ckptEvery: r.ckptEvery,
      seed: raw.seed as number, pool: raw.pool as number,
      textSteps: raw.textSteps as number, stage1Steps: raw.stage1Steps as number, stage2Steps: raw.stage2Steps as number,
      judgeSteps: raw.judgeSteps as number, evalCount: raw.eval as number, batch2: raw.batch2 as number,
      config: { ...DEFAULT_CONFIG, batch: raw.batch as number, lr: raw.lr as number, jointDBatch: raw.jointDBatch === true },
      redo: raw.redo as Array<'stage2' | 'judge'> | undefined,
      log: r.log, onProgress: r.progress, given: given.map((k) => (k === 'eval' ? 'evalCount' : k)),
    }));
  },
};

const wgan: TrainCommand = {
  name: 'wgan',
  description: 'WGAN (Arjovsky et al. 2017): weight clipping, RMSProp, n_critic 5; unconditional 32x32 generated scenes',
  flags: (cmd) => runFolderFlags(addFlags(cmd, f.seed('data, weights and noise'), f.pool(8000))
    .option('--iterations <n>', 'generator iterations', intOption('--iterations', 1, 1e9), 2000)
    .addOption(f.size('image side (a multiple of 16, at least 32)', 32, 32, 256))
    .option('--z <n>', 'noise dimension', intOption('--z', 1, 4096), 64)
    .addOption(f.batch('batch', 32))
    .addOption(f.lr('RMSProp learning rate', 5e-5))
    .option('--clip <c>', 'critic weight clipping bound', numberOption('--clip', 1e-6, 10), 0.01)
    .option('--n-critic <n>', 'critic updates per generator update', intOption('--n-critic', 1, 1000), 5)
    .option('--eval-every <n>', 'record W estimate and SWD every N generator iterations', intOption('--eval-every', 1, 1e9), 100),
  { steps: 'generator iterations', ckptEvery: 100, samples: 'sample grids' }),
  async run(raw, given) {
    const size = raw.size as number;
    if (size % 16 !== 0) throw new UsageError(`--size must be a multiple of 16, got ${size}`);
    const [{ initBackend }, { trainWganImages, WGAN_IMAGE_DEFAULTS }] = await Promise.all([import('../train/backend.ts'), import('../train/gan/wgan-image.ts')]);
    await initBackend();
    await withRun(raw, (r) => trainWganImages({
      out: r.out, runDir: r.runDir, name: r.name, resume: r.resume, maxSteps: r.maxSteps, ckptEvery: r.ckptEvery,
      seed: raw.seed as number, pool: raw.pool as number, iterations: raw.iterations as number, evalEvery: raw.evalEvery as number,
      config: { ...WGAN_IMAGE_DEFAULTS, size, zDim: raw.z as number, batch: raw.batch as number, lr: raw.lr as number,
        clip: raw.clip as number, nCritic: raw.nCritic as number },
      log: r.log, onProgress: (i, t, info) => r.progress('wgan', i, t, info), given: given.map((k) => (k === 'z' ? 'zDim' : k)),
    }));
  },
};

export const ganCommands: TrainCommand[] = [stackgan, wgan];
