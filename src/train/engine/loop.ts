// The training loop shared by the detectors: seeded data order, multi-scale sizes, the input pipeline
// one batch ahead of compute, Adam with burn-in and cosine decay, progress bar / log lines with loss and
// ETA, periodic checkpoints and exact --resume.
import { SingleBar } from 'cli-progress';
import { tf } from '../backend.ts';
import type { Batch, BatchItem, SourceConfig } from './batches.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights, saveCheckpoint, type CheckpointMeta } from './checkpoint.ts';
import { setDropoutStep } from './dropout.ts';
import { openPipeline, type Pipeline } from './pipeline.ts';
import { epochOrder, stream } from './rng.ts';

export interface StepResult {
  loss: tf.Scalar;
  /** figures shown next to the loss (avg IoU, recall, ...) */
  stats: Record<string, number>;
}

/** What a trainer plugs into the loop. */
export interface LoopTrainer {
  name: string;
  model: tf.LayersModel;
  /** forward + loss of one batch, inside the optimizer's gradient tape */
  step(batch: Batch, x: tf.Tensor4D, seen: number): StepResult;
  /** state saved with checkpoints (anchors, names, ...) */
  state: Record<string, unknown>;
}

export interface LoopOptions {
  epochs: number;
  /** detection images per batch (0: classification only, e.g. backbone pretraining) */
  batch: number;
  /** classification images per batch (YOLO9000 joint training) */
  clsBatch?: number;
  /** input sizes for multi-scale training; one is picked every `scaleEvery` steps */
  sizes: number[];
  scaleEvery?: number;
  seed: number;
  lr: number;
  burnIn: number;
  ckptDir: string;
  ckptEvery: number;
  /** stop after this many steps in this process (tests, time-boxed runs) */
  maxSteps?: number;
  source: SourceConfig;
  detSize: number;
  clsSize?: number;
  inProcessPipeline?: boolean;
  /** options echoed into checkpoints */
  cliOptions: Record<string, unknown>;
  log?: (line: string) => void;
  progress?: boolean;
}

export interface LoopState {
  step: number;
  epoch: number;
  stepInEpoch: number;
  seen: number;
}

export interface LoopResult extends LoopState {
  losses: number[];
  finished: boolean;
}

/** An epoch is one pass over the detection set, or over the classification set when there is none. */
export function stepsPerEpoch(o: Pick<LoopOptions, 'batch' | 'detSize' | 'clsBatch' | 'clsSize'>): number {
  if (o.batch > 0) return Math.max(1, Math.floor(o.detSize / o.batch));
  if (!o.clsBatch || !o.clsSize) throw new Error('a training loop needs detection or classification images per step');
  return Math.max(1, Math.floor(o.clsSize / o.clsBatch));
}

/** The whole schedule's steps: `epochs` may be fractional, so a run can end inside a time box. */
export function totalSteps(o: Pick<LoopOptions, 'epochs' | 'batch' | 'detSize' | 'clsBatch' | 'clsSize'>): number {
  return Math.round(stepsPerEpoch(o) * o.epochs);
}

/** learning rate at a step: darknet-style burn-in ((step/burnIn)^2 here), then cosine down to 5%. */
export function learningRate(o: Pick<LoopOptions, 'lr' | 'burnIn'>, step: number, total: number): number {
  const warm = o.burnIn > 0 ? Math.min(1, ((step + 1) / o.burnIn) ** 2) : 1;
  const t = Math.min(1, step / Math.max(1, total));
  return o.lr * warm * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

export function sizeAt(o: Pick<LoopOptions, 'sizes' | 'scaleEvery' | 'seed'>, step: number): number {
  if (o.sizes.length === 1) return o.sizes[0];
  const r = stream(o.seed, 'size', Math.floor(step / (o.scaleEvery ?? 10)));
  return o.sizes[r.int(o.sizes.length)];
}

function batchItems(o: LoopOptions, epoch: number, stepInEpoch: number): BatchItem[] {
  const items: BatchItem[] = [];
  if (o.batch > 0) {
    const det = epochOrder(o.seed, epoch, o.detSize);
    for (let k = 0; k < o.batch; k++) items.push({ src: 'det', index: det[stepInEpoch * o.batch + k] });
  }
  if (o.clsBatch && o.clsSize) {
    // the classification set cycles on its own: position = images drawn so far
    const per = o.clsBatch;
    const total = (epoch * stepsPerEpoch(o) + stepInEpoch) * per;
    for (let k = 0; k < per; k++) {
      const pos = total + k;
      const round = Math.floor(pos / o.clsSize);
      items.push({ src: 'cls', index: epochOrder(o.seed + 7777, round, o.clsSize)[pos % o.clsSize] });
    }
  }
  return items;
}

export interface ResumeInfo {
  meta: CheckpointMeta;
  path: string;
}

/** Reads the newest checkpoint of a run (for trainers that must rebuild their state first). */
export async function readResume(ckptDir: string): Promise<ResumeInfo | undefined> {
  const p = await findCheckpoint(ckptDir);
  if (!p) return undefined;
  const { meta } = await loadCheckpoint(p);
  return { meta, path: p };
}

/** The loop state of a checkpoint, with the model's weights and the optimizer's moments restored. */
async function restoreState(t: LoopTrainer, optimizer: tf.Optimizer, resume: ResumeInfo, total: number, log: (l: string) => void): Promise<LoopState> {
  const ck = await loadCheckpoint(resume.path);
  if (ck.meta.trainer !== t.name) throw new Error(`checkpoint ${resume.path} is a ${ck.meta.trainer} run, not ${t.name}`);
  restoreWeights(t.model, ck.meta, ck.weights);
  await optimizer.setWeights(ck.optimizer);
  const state = { step: ck.meta.step, epoch: ck.meta.epoch, stepInEpoch: ck.meta.stepInEpoch, seen: ck.meta.seen };
  log(`resumed ${t.name} from ${resume.path}: step ${state.step}/${total}, epoch ${state.epoch + 1}`);
  return state;
}

function advance(s: LoopState, stepsPerEpoch: number): LoopState {
  const n = { ...s, step: s.step + 1, stepInEpoch: s.stepInEpoch + 1 };
  if (n.stepInEpoch >= stepsPerEpoch) {
    n.epoch++;
    n.stepInEpoch = 0;
  }
  return n;
}

/** Forward, loss and update of one batch; the loss and the trainer's figures. */
function optimizerStep(t: LoopTrainer, optimizer: tf.Optimizer, batch: Batch, seen: number): { loss: number; stats: Record<string, number> } {
  let stats: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const x = tf.tensor4d(batch.pixels, [batch.targets.length, batch.size, batch.size, 3]);
    const l = optimizer.minimize(() => {
      const r = t.step(batch, x, seen);
      stats = r.stats;
      return r.loss;
    }, true);
    return l!.dataSync()[0];
  });
  return { loss, stats };
}

/** Progress of a run: a bar on a terminal, else a log line every 30 s (and for the first and last step). */
class LoopProgress {
  private readonly bar?: SingleBar;
  private readonly t0 = Date.now();
  private lastLog = Date.now();
  private ema: number | undefined;

  constructor(private readonly name: string, private readonly o: LoopOptions, private readonly total: number,
    private readonly startStep: number, private readonly stopAt: number, private readonly log: (l: string) => void, state: LoopState) {
    this.bar = o.progress && process.stderr.isTTY
      ? new SingleBar({
        format: `${name} |{bar}| {value}/{total} | epoch {ep} | loss {loss} | {extra} | {ips} img/s | ETA {eta_formatted}`,
        stream: process.stderr, hideCursor: true, etaBuffer: 50,
      })
      : undefined;
    this.bar?.start(total, state.step, { ep: state.epoch + 1, loss: '-', extra: '', ips: '-' });
  }

  update(state: LoopState, batch: Batch, loss: number, stats: Record<string, number>): void {
    const { o, total, startStep, stopAt } = this;
    const ema = this.ema = this.ema === undefined ? loss : 0.95 * this.ema + 0.05 * loss;
    const ips = ((state.step - startStep) * batch.targets.length) / Math.max(1e-3, (Date.now() - this.t0) / 1000);
    const extra = Object.entries(stats).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' ');
    const epoch = Math.min(Math.ceil(o.epochs), state.epoch + 1);
    this.bar?.update(state.step, { ep: epoch, loss: ema.toFixed(3), extra, ips: ips.toFixed(1) });
    if (!this.bar && (Date.now() - this.lastLog > 30_000 || state.step === stopAt || state.step - startStep <= 1)) {
      this.lastLog = Date.now();
      const left = ((stopAt - state.step) * (Date.now() - this.t0)) / Math.max(1, state.step - startStep) / 1000;
      this.log(`${this.name} step ${state.step}/${total} epoch ${epoch}/${o.epochs} size ${batch.size} loss ${ema.toFixed(4)} ${extra} lr ${learningRate(o, state.step, total).toExponential(2)} ${ips.toFixed(2)} img/s ETA ${fmtTime(left)}`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

export async function trainLoop(t: LoopTrainer, o: LoopOptions, resume?: ResumeInfo): Promise<LoopResult> {
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const spe = stepsPerEpoch(o);
  const total = totalSteps(o);
  const optimizer = tf.train.adam(o.lr);
  const state: LoopState = resume ? await restoreState(t, optimizer, resume, total, log) : { step: 0, epoch: 0, stepInEpoch: 0, seen: 0 };
  const pipeline: Pipeline = await openPipeline(o.source, { inProcess: o.inProcessPipeline });
  const losses: number[] = [];
  const save = () => saveCheckpoint(o.ckptDir, {
    trainer: t.name, ...state, seed: o.seed, options: o.cliOptions, state: t.state, loss: losses.at(-1),
  }, t.model, optimizer);
  const requestAt = (s: LoopState) => pipeline.request({
    size: sizeAt(o, s.step), items: batchItems(o, s.epoch, s.stepInEpoch), epoch: s.epoch, step: s.stepInEpoch,
  });
  const stopAt = o.maxSteps !== undefined ? Math.min(total, state.step + o.maxSteps) : total;
  const startStep = state.step;
  const progress = new LoopProgress(t.name, o, total, startStep, stopAt, log, state);
  let next: Promise<Batch> | undefined = state.step < stopAt ? requestAt(state) : undefined;
  let lastSave = Date.now();
  try {
    while (state.step < stopAt && next) {
      const batch = await next;
      const after = advance(state, spe);
      // prepare the following batch while this one trains
      next = after.step < stopAt ? requestAt(after) : undefined;
      (optimizer as unknown as { learningRate: number }).learningRate = learningRate(o, state.step, total);
      setDropoutStep(state.step);
      const { loss, stats } = optimizerStep(t, optimizer, batch, state.seen);
      if (!Number.isFinite(loss)) throw new Error(`loss is ${loss} at step ${state.step}: training diverged (lower --lr)`);
      losses.push(loss);
      state.seen += batch.targets.length;
      Object.assign(state, { ...after, seen: state.seen });
      progress.update(state, batch, loss, stats);
      if (state.step % o.ckptEvery === 0 || Date.now() - lastSave > 15 * 60_000) {
        lastSave = Date.now();
        await save();
      }
    }
    if (state.step > startStep && state.step % o.ckptEvery !== 0) await save();
  } finally {
    progress.stop();
    await pipeline.close();
    optimizer.dispose();
  }
  return { ...state, losses, finished: state.step >= total };
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}
