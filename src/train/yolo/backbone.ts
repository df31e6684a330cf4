// `pinhole train backbone`: the detectors' convolutional backbone pretrained as an image classifier,
// as both YOLO papers do before detection training (Darknet-19 on ImageNet; here the fine-labelled
// classification scenes). The classifier is the backbone, a 1x1 conv to the classes and a global
// average pool, darknet's classifier head. Training it at small inputs is many times cheaper per image
// than detection at 224 and teaches the filters the class differences, which detection from scratch
// learns slowest. `--backbone DIR` on the detector trainers then copies the matching layers.
import path from 'node:path';
import { initBackend, tf } from '../backend.ts';
import { openClassification } from '../data/open.ts';
import { DEFAULT_AUGMENT } from '../engine/augment.ts';
import { findCheckpoint, loadCheckpoint } from '../engine/checkpoint.ts';
import { installSwappedConvFilterGrad } from '../engine/fast-grads.ts';
import { readResume, stepsPerEpoch, trainLoop, type LoopOptions, type LoopTrainer } from '../engine/loop.ts';
import { resumedOptions, type ResumeKeys } from '../engine/resume-options.ts';
import { archStride, backbone, countFlops, V2_SYNTH, type ArchItem, type Ctx } from './models.ts';

export interface BackboneTrainOptions {
  data: string;
  val?: string;
  epochs: number;
  batch: number;
  sizes: number[];
  lr: number;
  burnIn: number;
  seed: number;
  jitter: number;
  out: string;
  ckptEvery: number;
  resume?: boolean;
  maxSteps?: number;
  inProcess?: boolean;
  log?: (line: string) => void;
  /** options typed on the command line: on --resume they replace the run's (see resumedOptions) */
  given?: string[];
}

/** Options of a backbone run on --resume: the classes come from --data; --out is the checkpoint folder. */
const BACKBONE_RESUME: ResumeKeys<BackboneTrainOptions> = {
  arch: ['data'],
  session: ['out', 'maxSteps', 'inProcess', 'log', 'given', 'resume'],
};

/** The backbone layers the detectors share: V2_SYNTH's convolutions (YOLOv1's are the same shapes). */
export const BACKBONE_ITEMS: readonly ArchItem[] = V2_SYNTH.backbone.filter((i) => i !== 'P');

export function buildClassifier(classes: number, seed: number): tf.LayersModel {
  const ctx: Ctx = { seed, n: 0 };
  const input = tf.input({ shape: [null, null, 3], name: 'image' });
  const { out } = backbone(input, BACKBONE_ITEMS, ctx);
  const logits = tf.layers.conv2d({
    name: 'cls_conv', filters: classes, kernelSize: 1, padding: 'same', useBias: true,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + 998 }),
  }).apply(out) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'cls_pool' }).apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: pooled, name: 'backbone' });
}

function classifierTrainer(model: tf.LayersModel, classes: number, names: string[]): LoopTrainer {
  return {
    name: 'backbone', model, state: { names },
    step(batch, x) {
      const logits = model.apply(x, { training: true }) as tf.Tensor2D;
      const labels = batch.targets.map((t) => t.label!);
      const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
      const loss = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
      const pred = logits.argMax(1).dataSync();
      const acc = labels.reduce((n, l, i) => n + (pred[i] === l ? 1 : 0), 0) / labels.length;
      return { loss, stats: { acc } };
    },
  };
}

/** Top-1 accuracy of a classifier on a classification set, letterboxed at `size` without augmentation. */
export async function classifierAccuracy(model: tf.LayersModel, spec: string, size: number): Promise<number> {
  const { makeBatch, openSources } = await import('../engine/batches.ts');
  const cfg = { cls: spec, mode: 'letterbox' as const, seed: 0, augment: null };
  const src = await openSources(cfg);
  const n = src.cls!.size;
  let right = 0;
  for (let s = 0; s < n; s += 32) {
    const items = Array.from({ length: Math.min(32, n - s) }, (_, k) => ({ src: 'cls' as const, index: s + k }));
    const b = await makeBatch(src, cfg, { id: 0, size, items, epoch: 0, step: 0 });
    const pred = tf.tidy(() => (model.predict(tf.tensor4d(b.pixels, [items.length, size, size, 3])) as tf.Tensor).argMax(1).dataSync());
    b.targets.forEach((t, i) => { if (pred[i] === t.label) right++; });
  }
  return right / n;
}

export async function trainBackbone(options: BackboneTrainOptions): Promise<void> {
  const log = options.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const backend = await initBackend();
  if (backend === 'wasm') installSwappedConvFilterGrad();
  const ckptDir = options.out;
  const resume = options.resume ? await readResume(ckptDir) : undefined;
  const o = resume ? resumedOptions(options, options.given ?? [], resume.meta.options as Partial<BackboneTrainOptions>, BACKBONE_RESUME, log) : options;
  const cls = await openClassification(o.data);
  const model = buildClassifier(cls.names.length, o.seed);
  const stride = archStride(BACKBONE_ITEMS);
  for (const s of o.sizes) if (s % stride !== 0) throw new Error(`--sizes ${s} is not a multiple of the backbone stride ${stride}`);
  log(`backbone classifier: ${model.countParams()} parameters, ${(countFlops(model, o.sizes[0]) / 1e9).toFixed(3)} GFLOPs at ${o.sizes[0]}, ${cls.names.length} classes, backend ${backend}`);
  const loop: LoopOptions = {
    epochs: o.epochs, batch: 0, clsBatch: o.batch, clsSize: cls.size, detSize: 0, sizes: o.sizes, seed: o.seed, lr: o.lr, burnIn: o.burnIn,
    ckptDir, ckptEvery: o.ckptEvery, maxSteps: o.maxSteps,
    source: { cls: o.data, mode: 'letterbox', seed: o.seed, augment: { ...DEFAULT_AUGMENT, jitter: o.jitter } },
    inProcessPipeline: o.inProcess, cliOptions: { ...o, log: undefined, given: undefined }, log, progress: true,
  };
  log(`backbone: ${stepsPerEpoch(loop)} steps/epoch x ${o.epochs} epochs, batch ${o.batch}, sizes ${o.sizes.join('/')}, checkpoints in ${ckptDir}`);
  const r = await trainLoop(classifierTrainer(model, cls.names.length, cls.names), loop, resume);
  if (o.val) {
    for (const s of [...new Set([Math.min(...o.sizes), Math.max(...o.sizes)])]) {
      log(`backbone step ${r.step}: top-1 accuracy on ${o.val} at ${s}px: ${(await classifierAccuracy(model, o.val, s)).toFixed(4)}`);
    }
  }
  if (!r.finished) log(`backbone: stopped at step ${r.step}; resume with --resume --out ${ckptDir}`);
}

/**
 * Copies the pretrained backbone's layers into a detector: every weight of a layer named like a
 * backbone layer (conv<i>, bn<i>) whose name and shape match. Returns how many tensors were copied.
 * The source is a `pinhole train backbone` run or a YOLOv2 run: YOLOv1's convolutional layers are
 * YOLOv2's first twelve, so a trained YOLOv2 is a detection-pretrained backbone for it (YOLOv2's
 * passthrough and head layers have other shapes and are left out).
 */
export async function loadBackbone(model: tf.LayersModel, dir: string): Promise<{ copied: number; from: string; step: number; trainer: string }> {
  const p = await findCheckpoint(dir);
  if (!p) throw new Error(`--backbone ${dir}: no checkpoint found`);
  const { meta, weights, optimizer } = await loadCheckpoint(p);
  tf.dispose(optimizer.map((o) => o.tensor));
  if (meta.trainer !== 'backbone' && meta.trainer !== 'yolov2') throw new Error(`--backbone ${dir}: a ${meta.trainer} checkpoint, not a backbone or yolov2 run`);
  const byName = new Map(meta.weights.map((e, i) => [e.name, { shape: e.shape, data: weights[i] }]));
  let copied = 0;
  for (const w of model.weights) {
    const src = byName.get(w.originalName);
    if (!src || !/^(conv|bn)\d+\//.test(w.originalName)) continue;
    if (src.shape.join() !== (w.shape as number[]).join()) continue;
    const t = tf.tensor(src.data, src.shape);
    w.write(t);
    t.dispose();
    copied++;
  }
  if (copied === 0) throw new Error(`--backbone ${dir}: no layer of the model matches the backbone's`);
  return { copied, from: path.resolve(p), step: meta.step, trainer: meta.trainer };
}
