// StackGAN training, in phases that each resume from checkpoints: (1) the SELU text encoder learns
// to read the caption's attributes back from phi_t (then it is frozen, as StackGAN's pretrained text
// encoder is), (2) Stage-I GAN, (3) Stage-II GAN on top of the frozen Stage-I generator, (4) the
// attribute judge on real scenes, (5) evaluation on held-out captions and export of one ONNX graph
// with both stages' outputs.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../../backend.ts';
import { Rng } from '../../data/rng.ts';
import { buildVocabulary, type TextSpec } from '../../../vision/text.ts';
import { exportLayersModelWithInfo, writeModelFolder } from '../../../onnx/tfjs/index.ts';
import type { GanManifest } from '../../../manifest.ts';
import { klNormal } from '../losses.ts';
import { InitSeeds } from '../init-seeds.ts';
import { setAlphaDropoutStep } from '../../snn/index.ts';
import { resumedWithConfig, type ResumeKeys } from '../../engine/resume-options.ts';
import { checkpointDir, loadGanCheckpoint, restoreModels, restoreOptimizers, saveGanCheckpoint, type GanCheckpoint } from '../checkpoint.ts';
import { tile, toRgb } from '../../../vision/generated-images.ts';
import { encodePng } from '../../data/image.ts';
import {
  CAPTION_COLOURS, CAPTION_POSITIONS, CAPTION_SHAPES, DEFAULT_CONFIG, HELD_OUT_SHARE, allCombinations, isHeldOut,
  type Attributes, type StackGanConfig,
} from './config.ts';
import { captionBatch, captionItems, captionPool, disposeBatch, imageTensor, normalTensor, tokenTensor, type CaptionBatch, type CaptionItem } from './data.ts';
import { ATTRIBUTE_KEYS, agreement, attributeLoss, judge, judgeModel, sharpness, trainJudge, type Agreement } from './judge.ts';
import { attributeHeads, servingModel, stackGanNets, type StackGanNets } from './models.ts';

export interface StackGanTrainOptions {
  /** model folder to write */
  out: string;
  /** checkpoints, logs, sample grids */
  runDir: string;
  seed: number;
  /** training scenes kept in memory */
  pool: number;
  textSteps: number;
  stage1Steps: number;
  stage2Steps: number;
  judgeSteps: number;
  /** held-out captions evaluated */
  evalCount: number;
  ckptEvery: number;
  resume: boolean;
  /** Stage-II batch (Stage-I uses config.batch) */
  batch2: number;
  config: StackGanConfig;
  name: string;
  /** stop after this many optimizer steps in this process (time-boxed runs; resume continues) */
  maxSteps?: number;
  /**
   * With resume: go back to these phases of a finished (or later-phase) run: 'stage2' continues
   * Stage-II from the steps it had to the (larger) stage2Steps; 'judge' trains a fresh judge.
   * The phases after them run again too (evaluation, export).
   */
  redo?: Array<'stage2' | 'judge'>;
  log: (line: string) => void;
  /** progress within the current phase */
  onProgress?: (phase: string, step: number, total: number, info: string) => void;
  /** options typed on the command line (these names): on resume they replace the run's */
  given?: string[];
}

/** Options of a StackGAN run on resume (see resumedOptions); the vocabulary comes with the checkpoint's state. */
const STACKGAN_RESUME: ResumeKeys<StackGanTrainOptions> = {
  arch: [], session: ['out', 'runDir', 'name', 'resume', 'maxSteps', 'redo', 'log', 'onProgress', 'given'], flags: { evalCount: '--eval' },
};

type Phase = 'text' | 'stage1' | 'stage2' | 'judge' | 'done';

interface HistoryPoint {
  step: number;
  dLoss: number;
  gLoss: number;
  kl: number;
}

interface TrainState {
  /** steps each finished phase ran */
  completed?: Partial<Record<Phase, number>>;
  vocabulary: string[];
  textAccuracy?: Record<string, number>;
  history: { stage1: HistoryPoint[]; stage2: HistoryPoint[] };
  seconds: number;
  /** how the discriminator saw its groups, per GAN phase from a step on (runs before this record: one pass per group) */
  discriminatorBatch?: Array<{ phase: 'stage1' | 'stage2'; from: number; joint: boolean }>;
}

export interface StackGanResult {
  dir: string;
  metrics: Record<string, unknown>;
  stopped: boolean;
}

/** Binary cross-entropy against a constant label, from logits. */
function bce(logits: tf.Tensor, label: 0 | 1): tf.Scalar {
  return tf.mean(tf.softplus(label === 1 ? tf.neg(logits) : logits)) as tf.Scalar;
}

/**
 * KL of N(mu, sigma^2) from N(0, I), sigma from the softplus head, averaged over the dimensions as
 * in StackGAN's reference code. (Summed, lambda = 1 would cap what c carries about the caption at a
 * few nats, less than the ~6 nats a colour x shape x position caption holds.)
 */
/**
 * Discriminator losses of one matching-aware update (StackGAN: real image + its caption is real; real
 * image + a mismatched caption and generated image + its caption are fake), and the generator's loss.
 * With `joint`, every group goes through the discriminator in one batch. Its batch norm then sees real
 * and generated images with the same statistics; group by group, each batch is centred on its own
 * mean, so a shift common to all generated images (a background lighter than the real one, a colour
 * cast, speckle energy) is normalised away before the discriminator could penalise it.
 */
function logitsOf(d: tf.LayersModel, groups: Array<[tf.Tensor, tf.Tensor]>, joint: boolean): tf.Tensor[] {
  if (!joint) return groups.map(([img, phi]) => d.apply([img, phi], { training: true }) as tf.Tensor);
  const img = tf.concat(groups.map((g) => g[0]), 0);
  const phi = tf.concat(groups.map((g) => g[1]), 0);
  const logits = d.apply([img, phi], { training: true }) as tf.Tensor;
  return tf.split(logits, groups.map((g) => g[0].shape[0]), 0);
}

export function discriminatorLoss(d: tf.LayersModel, real: tf.Tensor, fake: tf.Tensor, phi: tf.Tensor, phiWrong: tf.Tensor, joint: boolean): tf.Scalar {
  const [r, w, f] = logitsOf(d, [[real, phi], [real, phiWrong], [fake, phi]], joint);
  return tf.add(bce(r, 1), tf.mul(0.5, tf.add(bce(w, 0), bce(f, 0)))) as tf.Scalar;
}

/** Non-saturating generator loss; jointly with the real images the discriminator's update saw. */
export function generatorAdversarialLoss(d: tf.LayersModel, real: tf.Tensor, fake: tf.Tensor, phi: tf.Tensor, joint: boolean): tf.Scalar {
  const logits = joint ? logitsOf(d, [[real, phi], [fake, phi]], true)[1] : d.apply([fake, phi], { training: true }) as tf.Tensor;
  return bce(logits, 1);
}

function klSigma(mu: tf.Tensor, sigma: tf.Tensor): tf.Scalar {
  return klNormal(mu, tf.mul(2, tf.log(tf.add(sigma, 1e-6))), 'mean');
}

function vars(...ms: tf.LayersModel[]): tf.Variable[] {
  return ms.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

function minimize(opt: tf.Optimizer, v: tf.Variable[], f: () => tf.Scalar): number {
  const c = opt.minimize(f, true, v);
  const x = c!.dataSync()[0];
  c!.dispose();
  return x;
}

const yieldLoop = () => new Promise((r) => setImmediate(r));

export function textSpecFor(cfg: StackGanConfig, vocabulary: string[]): TextSpec {
  return { vocabulary, maxTokens: cfg.maxTokens, maxChars: 500 };
}

/** What a run trains: the caption pool, the nets and their optimizers, and the state it checkpoints. */
interface StackGanParts {
  pool: ReturnType<typeof captionPool>;
  state: TrainState;
  spec: TextSpec;
  nets: StackGanNets;
  heads: tf.LayersModel;
  judgeNet: tf.LayersModel;
  models: Record<string, tf.LayersModel>;
  opts: Record<string, tf.Optimizer>;
}

const PHASES: Phase[] = ['text', 'stage1', 'stage2', 'judge', 'done'];

function buildParts(o: StackGanTrainOptions, ck: GanCheckpoint | undefined): StackGanParts {
  const cfg = o.config;
  o.log(`building the caption pool (${o.pool} training scenes, ${cfg.base * 4}px)...`);
  const pool = captionPool(o.seed, o.pool, cfg.base * 4, cfg.base);
  const state: TrainState = ck ? (ck.meta.state as unknown as TrainState) : {
    vocabulary: buildVocabulary(pool.items.map((it) => it.caption)),
    history: { stage1: [], stage2: [] },
    seconds: 0,
  };
  const spec = textSpecFor(cfg, state.vocabulary);
  const seeds = new InitSeeds(o.seed);
  const nets = stackGanNets(cfg, state.vocabulary.length, seeds);
  const heads = attributeHeads(cfg.textDim, { colour: CAPTION_COLOURS.length, shape: CAPTION_SHAPES.length, position: CAPTION_POSITIONS.length }, 'te', seeds);
  const judgeNet = judgeModel(cfg.base * 4, o.seed + 1000);
  const opts: Record<string, tf.Optimizer> = {
    text: tf.train.adam(1e-3),
    g1: tf.train.adam(cfg.lr, cfg.beta1),
    d1: tf.train.adam(cfg.lr, cfg.beta1),
    g2: tf.train.adam(cfg.lr, cfg.beta1),
    d2: tf.train.adam(cfg.lr, cfg.beta1),
    judge: tf.train.adam(1e-3),
  };
  return { pool, state, spec, nets, heads, judgeNet, models: { ...nets, heads, judge: judgeNet }, opts };
}

/** Restores a checkpoint into the parts; returns where the run continues (after any --redo). */
async function resumeParts(o: StackGanTrainOptions, ck: GanCheckpoint, parts: StackGanParts): Promise<{ phase: Phase; step: number }> {
  restoreModels(ck, parts.models);
  await restoreOptimizers(ck, parts.opts);
  let phase = ck.meta.phase as Phase;
  let step = ck.meta.step;
  o.log(`resumed from ${ck.dir}: phase ${phase}, step ${step}`);
  const saved = ck.meta.options as Partial<StackGanTrainOptions>;
  const completed = (p: 'stage2' | 'judge') => parts.state.completed?.[p] ?? (p === 'stage2' ? saved.stage2Steps : saved.judgeSteps) ?? 0;
  const redo = [...(o.redo ?? [])].sort((a, b) => PHASES.indexOf(a) - PHASES.indexOf(b));
  if (redo.length && PHASES.indexOf(phase) > PHASES.indexOf(redo[0])) {
    if (redo.includes('judge')) {
      // a fresh judge: new weights, new optimizer
      const fresh = judgeModel(o.config.base * 4, o.seed + 1000);
      parts.judgeNet.setWeights(fresh.getWeights());
      fresh.dispose();
      parts.opts.judge.dispose();
      parts.opts.judge = tf.train.adam(1e-3);
      parts.state.completed = { ...parts.state.completed, judge: 0 };
    }
    phase = redo[0];
    step = phase === 'stage2' ? completed('stage2') : 0;
    o.log(`redoing from phase ${phase}, step ${step}`);
  }
  return { phase, step };
}

/**
 * Stage-I and Stage-II train alike: conditioning augmentation with its KL term, then one
 * discriminator and one generator step per batch. They differ in image size, nets, batch and seed,
 * and in what feeds the generator besides c: noise (Stage-I) or the frozen Stage-I image (Stage-II).
 */
interface Stage {
  phase: 'stage1' | 'stage2';
  then: Phase;
  total: number;
  batch: number;
  seed: number;
  images: 'small' | 'large';
  d: tf.LayersModel;
  g: tf.LayersModel;
  ca: tf.LayersModel;
  optD: tf.Optimizer;
  optG: tf.Optimizer;
  /** computed once per batch and disposed after it */
  below?: (phi: tf.Tensor, b: CaptionBatch) => tf.Tensor;
  inputs: (c: tf.Tensor, b: CaptionBatch, below: tf.Tensor | undefined) => tf.Tensor[];
}

/** Fixed captions (held out of training) whose samples are saved as the run goes. */
interface Preview {
  captions: string[];
  tokens: tf.Tensor;
  z: tf.Tensor;
  eps: tf.Tensor;
}

/** A run in progress: its phase and step, the step budget of this process, checkpoints and previews. */
class StackGanRun {
  phase: Phase = 'text';
  step = 0;
  budget: number;
  lastSave = Date.now();
  readonly serving: tf.LayersModel;
  readonly preview: Preview;

  constructor(readonly o: StackGanTrainOptions, readonly p: StackGanParts, readonly ckptDir: string) {
    this.budget = o.maxSteps ?? Infinity;
    const cfg = o.config;
    const items = captionItems(o.seed + 2, 8, cfg.base * 4, 'heldout');
    const rng = new Rng(o.seed, 0x9e);
    const captions = items.map((i) => i.caption);
    this.preview = { captions, tokens: tokenTensor(captions, p.spec), z: normalTensor(rng, [items.length, cfg.zDim]), eps: normalTensor(rng, [items.length, cfg.cDim]) };
    this.serving = servingModel(cfg, p.nets);
  }

  async save(why: string): Promise<void> {
    const { o, p } = this;
    p.state.seconds += (Date.now() - this.lastSave) / 1000;
    this.lastSave = Date.now();
    const where = await saveGanCheckpoint(this.ckptDir, {
      trainer: 'stackgan', phase: this.phase, step: this.step, seed: o.seed, options: { ...o, log: undefined, onProgress: undefined, given: undefined } as Record<string, unknown>,
      state: p.state as unknown as Record<string, unknown>,
    }, p.models, p.opts);
    o.log(`checkpoint ${why}: ${where}`);
  }

  async next(phase: Phase): Promise<void> {
    const state = this.p.state;
    state.completed = { ...state.completed, [this.phase]: this.step };
    this.phase = phase;
    this.step = 0;
    // a judge already trained to the requested steps is kept (it does not depend on the generators)
    if (phase === 'judge' && (state.completed?.judge ?? 0) >= this.o.judgeSteps) this.phase = 'done';
    await this.save(`entering ${this.phase}`);
  }

  async savePreview(tag: string): Promise<void> {
    const cfg = this.o.config;
    const [s1, s2] = this.serving.predict([this.preview.tokens, this.preview.z, this.preview.eps]) as tf.Tensor4D[];
    const up = tf.image.resizeNearestNeighbor(s1, [cfg.base * 4, cfg.base * 4]);
    const both = tf.concat([up, s2], 0);
    const nchw = tf.transpose(both, [0, 3, 1, 2]);
    const { images, width, height } = toRgb({ type: 'float32', dims: nchw.shape, data: nchw.dataSync() as Float32Array });
    tf.dispose([s1, s2, up, both, nchw]);
    const grid = tile(images, width, height);
    await writeFile(path.join(this.o.runDir, `preview-${tag}.png`), await encodePng(grid.rgb, grid.width, grid.height));
    await writeFile(path.join(this.o.runDir, 'preview-captions.txt'), this.preview.captions.join('\n') + '\n');
  }

  disposePreview(): void {
    tf.dispose([this.preview.tokens, this.preview.z, this.preview.eps]);
  }

  /** (1) the text encoder learns to read the caption's attributes back from phi_t */
  async trainText(): Promise<void> {
    const { o, p } = this;
    const v = vars(p.nets.text, p.heads);
    for (; this.step < o.textSteps && this.budget > 0; this.step++, this.budget--) {
      const rng = new Rng(o.seed, this.step, 0x7e);
      const idx = Array.from({ length: 64 }, () => Math.floor(rng.float() * p.pool.items.length));
      const tokens = tokenTensor(idx.map((i) => p.pool.items[i].caption), p.spec);
      setAlphaDropoutStep(this.step);
      const loss = minimize(p.opts.text, v, () => {
        const phi = p.nets.text.apply(tokens, { training: true }) as tf.Tensor;
        return attributeLoss(p.heads.apply(phi) as tf.Tensor[], idx.map((i) => p.pool.items[i].attrs));
      });
      tokens.dispose();
      if ((this.step + 1) % 50 === 0) o.onProgress?.('text', this.step + 1, o.textSteps, `loss ${loss.toFixed(4)}`);
      if (this.step % 10 === 0) await yieldLoop();
    }
    if (this.step >= o.textSteps) {
      p.state.textAccuracy = textReadback(o, p);
      const a = p.state.textAccuracy;
      o.log(`text encoder: attributes read back from phi_t of held-out captions: colour ${a.colour}, shape ${a.shape}, position ${a.position}`);
      await this.next('stage1');
    }
  }

  /** Records from which step the discriminator of a GAN phase sees its groups jointly or one by one. */
  noteBatching(phase: 'stage1' | 'stage2', total: number): void {
    if (this.step >= total) return;
    const joint = this.o.config.jointDBatch;
    const record = (this.p.state.discriminatorBatch ??= []);
    const last = record.filter((e) => e.phase === phase).pop();
    // steps run before this record existed were run group by group
    const before = last?.joint ?? (this.step > 0 ? false : undefined);
    if (!last && this.step > 0) record.push({ phase, from: 0, joint: false });
    if (before !== joint) record.push({ phase, from: this.step, joint });
  }

  /** (2), (3): one GAN stage, from the current step to its total or the end of the budget. */
  async trainStage(s: Stage): Promise<void> {
    const { o, p } = this;
    const cfg = o.config;
    this.noteBatching(s.phase, s.total);
    const dv = vars(s.d);
    const gv = vars(s.g, s.ca);
    let acc = { d: 0, g: 0, kl: 0, n: 0 };
    for (; this.step < s.total && this.budget > 0; this.step++, this.budget--) {
      const b = captionBatch(p.pool, p.spec, s.batch, s.seed, this.step, cfg, { large: s.images === 'large', small: s.images === 'small' });
      const r = stageStep(s, p.nets, b, cfg, dv, gv);
      disposeBatch(b);
      acc = { d: acc.d + r.d, g: acc.g + r.g, kl: acc.kl + r.kl, n: acc.n + 1 };
      if ((this.step + 1) % 25 === 0) {
        const point = { step: this.step + 1, dLoss: acc.d / acc.n, gLoss: acc.g / acc.n, kl: acc.kl / acc.n };
        p.state.history[s.phase].push(point);
        acc = { d: 0, g: 0, kl: 0, n: 0 };
        o.onProgress?.(s.phase, this.step + 1, s.total, `D ${point.dLoss.toFixed(3)} G ${point.gLoss.toFixed(3)} KL ${point.kl.toFixed(3)}`);
      }
      if ((this.step + 1) % o.ckptEvery === 0) {
        await this.savePreview(`${s.phase}-${this.step + 1}`);
        this.step++;
        await this.save('periodic');
        this.step--;
      }
      await yieldLoop();
    }
    if (this.step >= s.total) {
      await this.savePreview(`${s.phase}-final`);
      await this.next(s.then);
    }
  }

  /** (4) the attribute judge, on real scenes (for the evaluation) */
  async trainJudgePhase(): Promise<void> {
    const { o, p } = this;
    const judgeItems = captionItems(o.seed + 1000, Math.max(2000, o.pool), o.config.base * 4, 'all', { randomBackground: true });
    const remaining = Math.min(o.judgeSteps, this.step + this.budget);
    await trainJudge(p.judgeNet, judgeItems, o.config.base * 4, {
      steps: remaining, batch: 32, seed: o.seed + 1000,
      onStep: (s, l) => o.onProgress?.('judge', s, o.judgeSteps, `loss ${l.toFixed(4)}`),
    }, this.step, p.opts.judge);
    this.budget -= remaining - this.step;
    this.step = remaining;
    if (this.step >= o.judgeSteps) await this.next('done');
    else await this.save('periodic');
  }
}

/** One batch of a GAN stage: a discriminator step, then a generator step; their losses and the KL term. */
function stageStep(s: Stage, nets: StackGanNets, b: CaptionBatch, cfg: StackGanConfig, dv: tf.Variable[], gv: tf.Variable[]): { d: number; g: number; kl: number } {
  const joint = cfg.jointDBatch;
  const real = b[s.images];
  const phi = nets.text.predict(b.tokens) as tf.Tensor;
  const phiWrong = nets.text.predict(b.wrongTokens) as tf.Tensor;
  const below = s.below?.(phi, b);
  const generate = (c: tf.Tensor) => s.g.apply(s.inputs(c, b, below), { training: true }) as tf.Tensor;
  const fake = tf.tidy(() => generate((s.ca.apply([phi, b.eps], { training: true }) as tf.Tensor[])[0]));
  const d = minimize(s.optD, dv, () => discriminatorLoss(s.d, real, fake, phi, phiWrong, joint));
  let kl = 0;
  const g = minimize(s.optG, gv, () => {
    const [c, mu, sigma] = s.ca.apply([phi, b.eps], { training: true }) as tf.Tensor[];
    const f = generate(c);
    const k = klSigma(mu, sigma);
    kl = k.dataSync()[0];
    return tf.add(generatorAdversarialLoss(s.d, real, f, phi, joint), tf.mul(cfg.klWeight, k)) as tf.Scalar;
  });
  tf.dispose([phi, phiWrong, fake, ...(below ? [below] : [])]);
  return { d, g, kl };
}

/** How well phi_t carries the caption, on captions of held-out combinations. */
function textReadback(o: StackGanTrainOptions, p: StackGanParts): Record<string, number> {
  const held = captionItems(o.seed + 2, 300, o.config.base * 4, 'heldout');
  const t = tokenTensor(held.map((h) => h.caption), p.spec);
  const preds = tf.tidy(() => (p.heads.predict(p.nets.text.predict(t) as tf.Tensor) as tf.Tensor[]).map((l) => l.argMax(-1).dataSync() as Int32Array));
  t.dispose();
  const a = agreement(held.map((_, i) => ({ colour: preds[0][i], shape: preds[1][i], position: preds[2][i] })), held.map((h) => h.attrs));
  return { colour: a.colour, shape: a.shape, position: a.position };
}

/** The two GAN stages of a run, as trainStage takes them. */
function stages(o: StackGanTrainOptions, p: StackGanParts): { stage1: Stage; stage2: Stage } {
  const { nets, opts } = p;
  return {
    stage1: {
      phase: 'stage1', then: 'stage2', total: o.stage1Steps, batch: o.config.batch, seed: o.seed, images: 'small',
      d: nets.d1, g: nets.g1, ca: nets.ca1, optD: opts.d1, optG: opts.g1,
      inputs: (c, b) => [c, b.z],
    },
    stage2: {
      phase: 'stage2', then: 'judge', total: o.stage2Steps, batch: o.batch2, seed: o.seed + 1, images: 'large',
      d: nets.d2, g: nets.g2, ca: nets.ca2, optD: opts.d2, optG: opts.g2,
      // Stage-I is frozen: its image in inference mode, as the serving graph computes it
      below: (phi, b) => tf.tidy(() => nets.g1.predict([(nets.ca1.predict([phi, b.eps]) as tf.Tensor[])[0], b.z]) as tf.Tensor),
      inputs: (c, _b, img1) => [img1!, c],
    },
  };
}

export async function trainStackGan(options: StackGanTrainOptions): Promise<StackGanResult> {
  const t0 = Date.now();
  await mkdir(options.runDir, { recursive: true });
  const ckptDir = checkpointDir(options.runDir);
  const ck = options.resume ? await loadGanCheckpoint(ckptDir) : undefined;
  if (options.resume && !ck) options.log(`no checkpoint in ${ckptDir}: starting from scratch`);
  // the nets' shapes (config.base, zDim, widths, ...) are not flags: an untyped key is the run's anyway
  const o = ck
    ? resumedWithConfig(options, options.given ?? [], ck.meta.options as Partial<StackGanTrainOptions>, STACKGAN_RESUME, { arch: [], session: [] }, options.log)
    : options;
  const parts = buildParts(o, ck);
  const at = ck ? await resumeParts(o, ck, parts) : { phase: 'text' as Phase, step: 0 };
  const run = new StackGanRun(o, parts, ckptDir);
  run.phase = at.phase;
  run.step = at.step;
  const { stage1, stage2 } = stages(o, parts);
  if (run.phase === 'text') await run.trainText();
  if (run.phase === 'stage1') await run.trainStage(stage1);
  if (run.phase === 'stage2') await run.trainStage(stage2);
  if (run.phase === 'judge') await run.trainJudgePhase();
  if (run.phase !== 'done') {
    await run.save('stopping');
    o.log(`stopped after the step budget in phase ${run.phase} at step ${run.step}; resume with --resume`);
    run.disposePreview();
    return { dir: o.out, metrics: {}, stopped: true };
  }
  // (5) evaluation + export
  const metrics = evaluate(o, o.config, parts.spec, parts.nets, run.serving, parts.judgeNet, parts.state);
  o.log(`metrics: ${JSON.stringify(metrics)}`);
  const seconds = Math.round(parts.state.seconds + (Date.now() - run.lastSave) / 1000);
  const judgeExport = exportLayersModelWithInfo(parts.judgeNet, { outputNames: ATTRIBUTE_KEYS.map((k) => k) });
  const written = await writeModelFolder(o.out, run.serving, stackGanManifest(o, parts, judgeExport, metrics, seconds), {
    outputNames: ['stage1', 'stage2'],
    files: { 'attribute-judge.onnx': judgeExport.bytes },
  });
  run.disposePreview();
  o.log(`wrote ${written.dir} in ${Math.round((Date.now() - t0) / 1000)} s`);
  return { dir: written.dir, metrics, stopped: false };
}

function stackGanManifest(o: StackGanTrainOptions, p: StackGanParts, judgeExport: ReturnType<typeof exportLayersModelWithInfo>,
  metrics: Record<string, unknown>, seconds: number): GanManifest {
  const cfg = o.config;
  return {
    name: o.name,
    kind: 'stackgan',
    input: { width: cfg.base * 4, height: cfg.base * 4, channels: 3, layout: 'NCHW' },
    preprocess: 'resize',
    names: [],
    source: 'pinhole-train',
    description: 'StackGAN (Stage-I + Stage-II) trained on one-object caption scenes; text in, 64x64 RGB out',
    onnx: { input: 'tokens', outputs: ['stage1', 'stage2'] },
    text: p.spec,
    inputs: { tokens: 'tokens', noise: 'z', eps: 'eps' },
    zDim: cfg.zDim,
    cDim: cfg.cDim,
    stages: { 1: { output: 'stage1', size: cfg.base }, 2: { output: 'stage2', size: cfg.base * 4 } },
    outputRange: [-1, 1],
    captions: {
      shapes: CAPTION_SHAPES, colours: CAPTION_COLOURS, positions: CAPTION_POSITIONS, heldOutShare: HELD_OUT_SHARE,
      heldOut: allCombinations().filter(isHeldOut).map((a) => `${CAPTION_COLOURS[a.colour]} ${CAPTION_SHAPES[a.shape]} / ${CAPTION_POSITIONS[a.position]}`),
    },
    judge: { file: 'attribute-judge.onnx', input: judgeExport.inputs[0].name, outputs: judgeExport.outputs.map((x) => x.name), size: cfg.base * 4 },
    training: {
      config: cfg, seed: o.seed, pool: o.pool, steps: stepsRun(o, p.state),
      batch2: o.batch2, seconds, history: p.state.history,
      discriminatorBatch: p.state.discriminatorBatch,
    },
    metrics,
  };
}

function evaluate(o: StackGanTrainOptions, cfg: StackGanConfig, spec: TextSpec, nets: StackGanNets, serving: tf.LayersModel,
  judgeNet: tf.LayersModel, state: TrainState): Record<string, unknown> {
  const size = cfg.base * 4;
  const held = captionItems(o.seed + 2, o.evalCount, size, 'heldout');
  const seen = captionItems(o.seed + 3, o.evalCount, size, 'train');
  const run = (items: CaptionItem[], tag: number) => {
    const rng = new Rng(o.seed, 0xe7, tag);
    const tokens = tokenTensor(items.map((i) => i.caption), spec);
    const z = normalTensor(rng, [items.length, cfg.zDim]);
    const eps = normalTensor(rng, [items.length, cfg.cDim]);
    const [s1, s2] = serving.predict([tokens, z, eps], { batchSize: 32 }) as tf.Tensor4D[];
    const real = imageTensor(items.map((i) => i.rgb), size);
    const want: Attributes[] = items.map((i) => i.attrs);
    const r = {
      stage2: agreement(judge(judgeNet, s2), want),
      stage1: agreement(judge(judgeNet, s1), want),
      real: agreement(judge(judgeNet, real), want),
      sharpness: { stage2: round(sharpness(s2, size)), stage1: round(sharpness(s1, size)), real: round(sharpness(real, size)) },
    };
    tf.dispose([tokens, z, eps, s1, s2, real]);
    return r;
  };
  const unseen = run(held, 1);
  const trained = run(seen, 2);
  const pick = (a: Agreement) => ({ colour: a.colour, shape: a.shape, position: a.position, mean: a.mean, all: a.all });
  return {
    heldout_captions: unseen.stage2.n,
    stage2_agreement_heldout: unseen.stage2.mean,
    stage1_agreement_heldout: unseen.stage1.mean,
    stage2_all_attributes_heldout: unseen.stage2.all,
    stage1_all_attributes_heldout: unseen.stage1.all,
    stage2_sharpness: unseen.sharpness.stage2,
    stage1_sharpness_upsampled: unseen.sharpness.stage1,
    real_sharpness: unseen.sharpness.real,
    per_attribute_heldout: { stage2: pick(unseen.stage2), stage1: pick(unseen.stage1), judge_on_real: pick(unseen.real) },
    per_attribute_seen_combinations: { stage2: pick(trained.stage2), stage1: pick(trained.stage1), judge_on_real: pick(trained.real) },
    text_encoder_readback_heldout: state.textAccuracy,
    how: 'Captions of held-out (colour, shape, position) combinations, never seen in training; one seeded sample each. '
      + 'An attribute judge (CNN trained on real caption scenes, shipped as attribute-judge.onnx) reads colour, shape and '
      + 'position from each generated image; agreement = share of attributes matching the caption (mean over the three), '
      + '"all" = all three right. Stage-I images are upsampled bilinearly to 64x64 for the judge and the sharpness measure '
      + '(mean |4-neighbour Laplacian| of the grey image, 0-255 units).',
  };
}

/**
 * Steps each phase actually ran: a resumed run's options name only what this process was asked for
 * (a run continued with a smaller default, or one that only redid the judge, would misreport them).
 */
function stepsRun(o: StackGanTrainOptions, state: TrainState): Record<'text' | 'stage1' | 'stage2' | 'judge', number> {
  const lastStep = (h: HistoryPoint[]) => (h.length ? h[h.length - 1].step : 0);
  return {
    text: state.completed?.text ?? o.textSteps,
    stage1: Math.max(state.completed?.stage1 ?? 0, lastStep(state.history.stage1)),
    stage2: Math.max(state.completed?.stage2 ?? 0, lastStep(state.history.stage2)),
    judge: state.completed?.judge ?? o.judgeSteps,
  };
}

const round = (v: number) => Math.round(v * 1000) / 1000;

export { DEFAULT_CONFIG };
