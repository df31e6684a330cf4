// `pinhole train yolov1 | yolov2 | yolo9000`: set-up (data, anchors, WordTree), the per-batch loss,
// export of the model folder and its evaluation on a held-out set.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, tf } from '../backend.ts';
import type { Manifest } from '../../manifest.ts';
import { writeModelFolder } from '../../onnx/tfjs/folder.ts';
import { openClassification, openDataset } from '../data/open.ts';
import { synthTaxonomy } from '../data/classes.ts';
import type { DetectionDataset } from '../data/types.ts';
import { parseTreeText } from '../../vision/wordtree.ts';
import { DEFAULT_AUGMENT } from '../engine/augment.ts';
import type { BatchTarget } from '../engine/batches.ts';
import { runPinholeEval, writeMetrics } from '../engine/evaluate.ts';
import { installSwappedConvFilterGrad } from '../engine/fast-grads.ts';
import { readResume, stepsPerEpoch, totalSteps, trainLoop, type LoopOptions, type LoopTrainer } from '../engine/loop.ts';
import { TrainOptionError } from '../errors.ts';
import { resumedOptions, type ResumeKeys } from '../engine/resume-options.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights } from '../engine/checkpoint.ts';
import { buildWordTree } from '../wordtree/build.ts';
import { indexTree, type TreeIndex } from '../wordtree/tree.ts';
import { kmeansAnchors } from './anchors.ts';
import { foldSharedCellHead, SharedCellHead } from '../layers/shared-cell-head.ts';
import { archStride, buildYoloV1, buildYoloV2, countFlops, exportSizeProblem, V1_BACKBONE_POOLED, V1_SYNTH, V2_SYNTH, type ArchItem } from './models.ts';
import { REGION_DEFAULTS, regionLoss, regionTargets, type RegionLossConfig } from './region-loss.ts';
import type { ClsPick, TrainTarget } from './types.ts';
import { V1_DEFAULTS, denseSquaredLoss, v1Targets, type V1LossConfig } from './v1-loss.ts';

export type YoloKind = 'yolov1' | 'yolov2' | 'yolo9000';

export interface YoloTrainOptions {
  data: string;
  cls?: string;
  val?: string;
  epochs: number;
  batch: number;
  clsBatch: number;
  size: number;
  sizes?: number[];
  side: number;
  num: number;
  lr: number;
  burnIn: number;
  seed: number;
  out: string;
  ckptDir?: string;
  ckptEvery: number;
  resume?: boolean;
  maxSteps?: number;
  tree?: string;
  /** YOLO9000 export: the model's default hierarchy threshold, written to model.json (see Yolo9000Manifest.hier) */
  hier?: number;
  /** YOLO9000: which predictor learns a classification image's label (RegionLossConfig.clsPick) */
  clsPick?: ClsPick;
  /** YOLO9000: scale range of the classification images' placement (SourceConfig.clsScale) */
  clsScale?: [number, number];
  augment: boolean;
  /** aspect jitter of the augmentation (default: see defaultJitter) */
  jitter?: number;
  /** a `pinhole train backbone` run whose layers initialise the detector's backbone */
  backbone?: string;
  inProcess?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
  /** options typed on the command line; on --resume, `epochs` and `val` among them override the run's */
  given?: string[];
}

export interface YoloState extends Record<string, unknown> {
  kind: YoloKind;
  names: string[];
  /** dataset class id -> output class (tree node for YOLO9000) */
  detMap: number[];
  clsMap?: number[];
  anchors?: number[];
  tree?: { parents: number[]; labels: string[] };
  /** evaluation: dataset classes seen only through classification images (YOLO9000) */
  clsOnly?: string[];
  size: number;
  side?: number;
  num: number;
  /** YOLOv1: its convolutional layers (absent in runs checkpointed before they changed: V1_BACKBONE_POOLED) */
  backbone?: ArchItem[];
}

const toTrain = (t: BatchTarget, map: number[], clsMap?: number[]): TrainTarget => ({
  boxes: t.boxes.map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, cls: map[b.classId] })),
  label: t.label !== undefined ? clsMap![t.label] : undefined,
});

/** Box shapes (image fractions) of the first images of a dataset, for the anchor clusters. */
async function boxShapes(ds: DetectionDataset, limit: number): Promise<{ w: number; h: number }[]> {
  const out: { w: number; h: number }[] = [];
  for (let i = 0; i < Math.min(limit, ds.size); i++) {
    const s = await ds.get(i);
    // letterbox keeps the aspect ratio: a box's fraction of the network side follows the image's long side
    const side = Math.max(s.width, s.height);
    for (const b of s.boxes) out.push({ w: (b.x2 - b.x1) / side, h: (b.y2 - b.y1) / side });
  }
  return out;
}

async function freshState(kind: YoloKind, o: YoloTrainOptions, det: DetectionDataset): Promise<YoloState> {
  const stride = archStride(kind === 'yolov1' ? V1_SYNTH.backbone : V2_SYNTH.backbone);
  if (o.size % stride !== 0) throw new Error(`--size ${o.size} must be a multiple of ${stride}`);
  if (kind === 'yolov1') {
    return { kind, names: [...det.names], detMap: det.names.map((_, i) => i), size: o.size, side: o.side, num: o.num, backbone: V1_SYNTH.backbone };
  }
  const shapes = await boxShapes(det, 1500);
  const grid = o.size / stride;
  const km = kmeansAnchors(shapes, o.num, o.seed);
  const anchors = km.anchors.flatMap((a) => [round4(a.w * grid), round4(a.h * grid)]);
  o.log?.(`anchors (k-means, 1 - IoU, ${shapes.length} boxes, avg IoU ${km.avgIou.toFixed(3)}): ${anchors.join(', ')}`);
  if (kind === 'yolov2') return { kind, names: [...det.names], detMap: det.names.map((_, i) => i), anchors, size: o.size, num: o.num };

  // YOLO9000: a WordTree over the detection labels and the (finer) classification labels
  if (!o.cls) throw new Error('yolo9000 needs --cls SPEC: the classification set for joint training');
  const cls = await openClassification(o.cls);
  let tree: { parents: number[]; labels: string[]; names: string[] };
  if (o.tree) {
    const spec = parseTreeText(await readFile(o.tree, 'utf8'));
    const labels = spec.labels ?? spec.parents.map((_, i) => String(i));
    tree = { parents: spec.parents, labels, names: labels };
  } else {
    const tax = synthTaxonomy();
    const bySynset = new Map<string, string>();
    for (const c of tax.coarse) bySynset.set(c.synset.offset, c.name);
    for (const c of tax.fine) bySynset.set(c.synset.offset, c.name); // a fine class that is its own coarse label keeps its name
    const wanted = [...det.names, ...cls.names];
    const known = new Map([...tax.coarse, ...tax.fine].map((c) => [c.name, c.synset.offset]));
    const missing = wanted.filter((n) => !known.has(n));
    if (missing.length) throw new Error(`no WordNet synset known for class(es) ${missing.join(', ')}: pass --tree FILE (darknet 9k.tree format)`);
    const synsets = [...new Set(wanted.map((n) => known.get(n)!))];
    // classification labels are the finest: they must stay predictable leaves
    const leaf = new Set(cls.names.map((n) => known.get(n)!));
    const built = buildWordTree(synsets.map((s) => ({ synset: 'n' + s, name: bySynset.get(s), leaf: leaf.has(s) })));
    tree = { parents: built.parents, labels: built.labels, names: built.names };
  }
  const node = (name: string) => {
    const i = tree.names.indexOf(name);
    if (i < 0) throw new Error(`class "${name}" is not a node of the WordTree`);
    return i;
  };
  const detMap = det.names.map(node);
  const clsMap = cls.names.map(node);
  const clsOnly = cls.names.filter((n) => !det.names.includes(n));
  return {
    kind, names: tree.names, detMap, clsMap, anchors, size: o.size, num: o.num, clsOnly,
    tree: { parents: tree.parents, labels: tree.labels },
  };
}

/**
 * The generated scenes tell some classes apart by aspect ratio alone (circle / ellipse, square /
 * rectangle, rhombus): darknet's 0.2 aspect jitter would stretch one into the other and teach wrong
 * labels, so they get 0.05. Other data keeps darknet's 0.2.
 */
export function defaultJitter(data: string): number {
  return /^synth(9k)?:/.test(data) ? 0.05 : 0.2;
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

function regionConfig(s: YoloState, tree?: TreeIndex, clsPick?: ClsPick): RegionLossConfig {
  return { num: s.num, classes: s.names.length, anchors: s.anchors!, ...REGION_DEFAULTS, tree, clsPick };
}

/**
 * The model of a run: the training form, or with `size` the exported form at that fixed input size
 * (YOLOv1: its shared cell head folded into the connected layer, see foldInto).
 */
export function buildModel(s: Pick<YoloState, 'kind' | 'size' | 'side' | 'num' | 'names' | 'backbone'>, seed: number, size?: number): tf.LayersModel {
  if (s.kind === 'yolov1') {
    const arch = { ...V1_SYNTH, backbone: s.backbone ?? V1_BACKBONE_POOLED };
    return buildYoloV1({ size: s.size, side: s.side!, num: s.num, classes: s.names.length, seed, arch, inference: size !== undefined });
  }
  return buildYoloV2({ num: s.num, classes: s.names.length, seed, size });
}

/** Copies a training model's weights into its exported form (buildModel with a size). */
export function foldInto(s: Pick<YoloState, 'side' | 'num' | 'names'>, trained: tf.LayersModel, fixed: tf.LayersModel): void {
  const byName = new Map(trained.weights.map((w) => [w.originalName, w]));
  const read = (name: string) => {
    const w = byName.get(name);
    if (!w) throw new Error(`export: the trained model has no weight ${name}`);
    return w.read().dataSync() as Float32Array;
  };
  const layer = trained.layers.find((l) => l instanceof SharedCellHead) as SharedCellHead | undefined;
  const head = layer
    ? foldSharedCellHead({ side: s.side!, classes: s.names.length, num: s.num, denseScale: layer.denseScale },
      { kernel: read('detection/kernel'), bias: read('detection/bias') },
      { kernel: read('detection_shared/kernel'), bias: read('detection_shared/bias') })
    : undefined;
  for (const w of fixed.weights) {
    const v = head && w.originalName === 'detection/kernel' ? head.kernel : head && w.originalName === 'detection/bias' ? head.bias : read(w.originalName);
    const t = tf.tensor(v, w.shape as number[]);
    w.write(t);
    t.dispose();
  }
}

export function makeTrainer(s: YoloState, model: tf.LayersModel, clsPick?: ClsPick): LoopTrainer {
  if (s.kind === 'yolov1') {
    const cfg: V1LossConfig = { side: s.side!, num: s.num, classes: s.names.length, ...V1_DEFAULTS };
    return {
      name: s.kind, model, state: s,
      step(batch, x) {
        const out = model.apply(x, { training: true }) as tf.Tensor2D;
        const t = v1Targets(cfg, out.dataSync(), batch.targets.map((b) => toTrain(b, s.detMap)));
        return { loss: denseSquaredLoss(out, t), stats: { iou: t.stats.avgIou, rec: t.stats.recall, cat: t.stats.avgCat } };
      },
    };
  }
  const tree = s.tree ? indexTree(s.tree.parents, s.tree.labels) : undefined;
  const cfg = regionConfig(s, tree, clsPick);
  return {
    name: s.kind, model, state: s,
    step(batch, x, seen) {
      const out = model.apply(x, { training: true }) as tf.Tensor4D;
      const [N, H, W] = out.shape;
      const t = regionTargets(cfg, out.dataSync(), N, H, W, batch.targets.map((b) => toTrain(b, s.detMap, s.clsMap)), seen);
      return { loss: regionLoss(cfg, out, t), stats: { iou: t.stats.avgIou, rec: t.stats.recall, obj: t.stats.avgObj, cat: t.stats.avgCat } };
    },
  };
}

function manifestOf(s: YoloState, name: string, o: YoloTrainOptions, result: { step: number; seen: number }): Manifest {
  const input = { width: s.size, height: s.size, channels: 3, layout: 'NCHW' as const };
  const description = `${s.kind} trained by pinhole on ${o.data}${o.cls ? ` + ${o.cls}` : ''}${o.backbone ? ` from the backbone pretrained in ${o.backbone}` : ''}: ${result.step} steps, ${result.seen} images, seed ${o.seed}${s.size !== o.size ? `; exported at ${s.size} px (training base size ${o.size})` : ''}`;
  if (s.kind === 'yolov1') {
    return { name, kind: 'yolov1', input, preprocess: 'resize', names: s.names, source: 'pinhole-train', side: s.side!, num: s.num, sqrt: true, softmax: false, nms: 0.4, description };
  }
  const common = { name, input, preprocess: 'letterbox' as const, names: s.names, source: 'pinhole-train' as const, num: s.num, anchors: s.anchors!, coords: 4, softmax: true, nms: 0.45, description };
  if (s.kind === 'yolov2') return { ...common, kind: 'yolov2' };
  return { ...common, kind: 'yolo9000', tree: s.tree!, ...(o.hier !== undefined ? { hier: o.hier } : {}) };
}

/** Options of a YOLO run on --resume: see resumedOptions. */
const YOLO_RESUME: ResumeKeys<YoloTrainOptions> = {
  // the classes come from the data (and YOLO9000's classification set and tree); the weights' shapes
  // from size, side and num; the backbone only initialises a fresh run
  arch: ['data', 'cls', 'tree', 'size', 'side', 'num', 'backbone'],
  session: ['out', 'ckptDir', 'maxSteps', 'inProcess', 'progress', 'log', 'given', 'resume'],
  unset: { sizes: 'the default sizes', clsScale: 'the detection scale' },
};

/**
 * The options a checkpoint recorded, in today's terms: the one place older run metadata is read.
 * Runs from before --jitter trained with darknet's 0.2; YOLO9000 runs from before --cls-pick picked by
 * the paper's rule (probability), and from before --cls-scale placed classification images at the
 * detection images' scale (no clsScale).
 */
export function migrateYoloOptions(kind: YoloKind, recorded: Record<string, unknown>): Partial<YoloTrainOptions> {
  const o = { ...recorded } as Partial<YoloTrainOptions>;
  if (o.jitter === undefined) o.jitter = 0.2;
  if (kind === 'yolo9000') {
    o.clsPick ??= 'probability';
    if (!Object.hasOwn(o, 'clsScale')) o.clsScale = undefined;
  }
  return o;
}

/** The backend, with the wasm kernels' faster gradient, and a warning when it is the slow one. */
async function trainingBackend(log: (l: string) => void): Promise<string> {
  const backend = await initBackend();
  if (backend === 'wasm') installSwappedConvFilterGrad();
  if (backend === 'cpu') log('warning: training on the pure-JS cpu backend is ~100x slower than wasm');
  return backend;
}

/** The multi-scale input sizes of a run (YOLOv1: its one size), checked against the stride. */
function trainingSizes(kind: YoloKind, o: YoloTrainOptions): number[] {
  if (kind === 'yolov1') return [o.size];
  const stride = archStride(V2_SYNTH.backbone);
  const sizes = (o.sizes ?? [o.size - 64, o.size - 32, o.size, o.size + 32]).filter((v) => v >= 2 * stride);
  for (const s of sizes) if (s % stride !== 0) throw new Error(`multi-scale size ${s} is not a multiple of ${stride}`);
  return sizes;
}

/** The training loop's options for a run whose state and data are set up. */
async function loopOptions(kind: YoloKind, o: YoloTrainOptions, state: YoloState, det: DetectionDataset, sizes: number[], ckptDir: string): Promise<LoopOptions> {
  const cliOptions = { ...o } as Record<string, unknown>;
  delete cliOptions.log;
  delete cliOptions.given;
  const clsSize = state.clsMap && o.cls ? (await openClassification(o.cls)).size : undefined;
  return {
    epochs: o.epochs, batch: o.batch, clsBatch: clsSize ? o.clsBatch : undefined, sizes, seed: o.seed, lr: o.lr, burnIn: o.burnIn,
    ckptDir, ckptEvery: o.ckptEvery, maxSteps: o.maxSteps, detSize: det.size, clsSize,
    source: {
      det: o.data, cls: clsSize ? o.cls : undefined, mode: kind === 'yolov1' ? 'resize' : 'letterbox', seed: o.seed,
      augment: o.augment ? { ...DEFAULT_AUGMENT, jitter: o.jitter ?? defaultJitter(o.data) } : null, clsScale: clsSize ? o.clsScale : undefined,
    },
    inProcessPipeline: o.inProcess, cliOptions, log: o.log, progress: o.progress,
  };
}

/** The whole command: train (or resume), export the model folder, evaluate it, write the metrics. */
export async function trainYolo(kind: YoloKind, options: YoloTrainOptions): Promise<void> {
  const log = options.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const backend = await trainingBackend(log);
  const ckptDir = options.ckptDir ?? path.join(options.out, 'checkpoints');
  const resume = options.resume ? await readResume(ckptDir) : undefined;
  if (options.resume && !resume) log(`--resume: no checkpoint in ${ckptDir} yet, starting fresh`);
  const o: YoloTrainOptions = resume
    ? resumedOptions({ ...options, log }, options.given ?? [], migrateYoloOptions(kind, resume.meta.options), YOLO_RESUME, log)
    : { ...options, log };
  const det = await openDataset(o.data);
  const state = resume ? (resume.meta.state as YoloState) : await freshState(kind, o, det);
  if (state.kind !== kind) throw new Error(`the checkpoint in ${ckptDir} is a ${state.kind} run, not ${kind}`);
  const model = buildModel(state, o.seed);
  o.jitter ??= defaultJitter(o.data);
  if (o.backbone && !resume) {
    const { loadBackbone } = await import('./backbone.ts');
    const b = await loadBackbone(model, o.backbone);
    log(`${kind}: ${b.copied} weight tensors from the ${b.trainer === 'backbone' ? 'pretrained backbone' : `${b.trainer} run`} ${b.from} (step ${b.step})`);
  }
  const sizes = trainingSizes(kind, o);
  log(`${kind}: ${model.countParams()} parameters, ${(countFlops(model, o.size) / 1e9).toFixed(3)} GFLOPs at ${o.size}, backend ${backend}, sizes ${sizes.join('/')}`);
  const loop = await loopOptions(kind, o, state, det, sizes, ckptDir);
  if (totalSteps(loop) < 1) throw new TrainOptionError(`--epochs ${o.epochs} is less than one step (${stepsPerEpoch(loop)} steps per epoch)`);
  const clsNote = loop.clsSize ? ` + ${o.clsBatch} classification (picked by ${o.clsPick ?? 'probability'}, scale ${o.clsScale?.join('-') ?? 'as detection'})` : '';
  log(`${kind}: ${stepsPerEpoch(loop)} steps/epoch x ${o.epochs} epochs = ${totalSteps(loop)} steps, batch ${o.batch}${clsNote}, checkpoints in ${ckptDir}`);
  const r = await trainLoop(makeTrainer(state, model, o.clsPick), loop, resume);
  if (!r.finished) {
    log(`${kind}: stopped at step ${r.step} (--max-steps); resume with --resume --ckpt-dir ${ckptDir}`);
    return;
  }
  await exportAndEvaluate(state, model, o, r);
}

export async function exportAndEvaluate(state: YoloState, model: tf.LayersModel, o: YoloTrainOptions, r: { step: number; seen: number }): Promise<void> {
  const log = o.log!;
  const fixed = buildModel(state, o.seed, state.size);
  foldInto(state, model, fixed);
  await mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  const name = path.basename(path.resolve(o.out));
  const written = await writeModelFolder(o.out, fixed, manifestOf(state, name, o, r), { files: tfjsWeightFiles(state, fixed) });
  log(`exported ${written.dir} (${(written.onnx.bytes.byteLength / 1e6).toFixed(2)} MB ONNX)`);
  if (!o.val) return;
  log(`evaluating on ${o.val} with pinhole eval ...`);
  const ev = await runPinholeEval(written.dir, o.val);
  const metrics: Record<string, unknown> = {
    map50: ev.map50, map: ev.map, per_class_ap50: ev.per_class, eval_data: o.val,
    eval_seed: synthSeed(o.val), measured_by: `pinhole eval ${name} --data ${o.val}`,
    train_data: o.data, train_seed: synthSeed(o.data), train_images: r.seen, train_steps: r.step,
  };
  // pinhole eval's default for a tree model: each class scored at every box (darknet's valid with a map)
  if (state.kind === 'yolo9000') metrics.tree_scores = 'classes';
  if (o.hier !== undefined) metrics.hier = o.hier;
  if (state.clsOnly?.length) {
    const aps = state.clsOnly.map((n) => ev.per_class[n]).filter((v) => v !== undefined);
    metrics.classification_only_classes = state.clsOnly;
    metrics.map50_classification_only = aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0;
    if (o.cls) metrics.cls_data = o.cls;
  }
  await writeMetrics(written.dir, metrics);
  log(`${state.kind} on ${o.val}: mAP@0.5 ${ev.map50.toFixed(4)}, mAP@[.5:.95] ${ev.map.toFixed(4)}${metrics.map50_classification_only !== undefined ? `, classification-only classes mAP@0.5 ${(metrics.map50_classification_only as number).toFixed(4)}` : ''}`);
}

/** The trained tfjs weights, shipped beside model.onnx so the export can be checked against tfjs. */
export const TFJS_WEIGHTS = { json: 'tfjs-weights.json', bin: 'tfjs-weights.bin' } as const;

function tfjsWeightFiles(state: YoloState, model: tf.LayersModel): Record<string, string | Uint8Array> {
  const ws = model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
  const all = new Float32Array(ws.reduce((n, w) => n + w.data.length, 0));
  let o = 0;
  for (const w of ws) {
    all.set(w.data, o);
    o += w.data.length;
  }
  const spec = { kind: state.kind, size: state.size, side: state.side, num: state.num, classes: state.names.length, backbone: state.backbone, weights: ws.map(({ name, shape }) => ({ name, shape })) };
  return { [TFJS_WEIGHTS.json]: JSON.stringify(spec) + '\n', [TFJS_WEIGHTS.bin]: new Uint8Array(all.buffer) };
}

/** Rebuilds the tfjs model of an exported folder (fixed input size) from its shipped weights. */
export async function loadTfjsModel(dir: string): Promise<tf.LayersModel> {
  const spec = JSON.parse(await readFile(path.join(dir, TFJS_WEIGHTS.json), 'utf8')) as {
    kind: YoloKind; size: number; side?: number; num: number; classes: number; backbone?: ArchItem[]; weights: { name: string; shape: number[] }[];
  };
  const buf = await readFile(path.join(dir, TFJS_WEIGHTS.bin));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const model = buildModel({ kind: spec.kind, size: spec.size, side: spec.side, num: spec.num, backbone: spec.backbone, names: Array.from({ length: spec.classes }, (_, i) => String(i)) }, 1, spec.size);
  if (model.weights.length !== spec.weights.length) throw new Error(`${dir}: ${spec.weights.length} weight tensors for a model with ${model.weights.length}`);
  let o = 0;
  const vals = spec.weights.map((e) => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(all.subarray(o, o + n), e.shape);
    o += n;
    return t;
  });
  if (o !== all.length) throw new Error(`${dir}: ${TFJS_WEIGHTS.bin} holds ${all.length} floats, expected ${o}`);
  model.setWeights(vals);
  tf.dispose(vals);
  return model;
}

function synthSeed(spec: string): number | undefined {
  const m = /^synth(?:9k|cls)?:(\d+):/.exec(spec);
  return m ? Number(m[1]) : undefined;
}

export interface ExportOptions {
  out: string;
  /** evaluate on this dataset and record the figures */
  val?: string;
  /** input side (yolov2/yolo9000) */
  size?: number;
  /** yolo9000: default hierarchy threshold written to model.json */
  hier?: number;
}

/**
 * `pinhole export CHECKPOINT --out DIR`: the model folder of a (possibly unfinished) YOLO run, from its
 * newest checkpoint; evaluated on `val` when given.
 */
export async function exportCheckpoint(ckpt: string, e: ExportOptions, log: (l: string) => void): Promise<boolean> {
  const p = await findCheckpoint(ckpt);
  if (!p) throw new Error(`no checkpoint in ${ckpt}`);
  await initBackend();
  const { meta, weights } = await loadCheckpoint(p);
  if (!['yolov1', 'yolov2', 'yolo9000'].includes(meta.trainer)) return false;
  const trained = meta.state as YoloState;
  const { size, hier } = e;
  if (size !== undefined && trained.kind === 'yolov1') throw new Error('--size: a yolov1 model has a fixed input size (its connected layer); only yolov2/yolo9000 export at another size');
  if (hier !== undefined && trained.kind !== 'yolo9000') throw new Error(`--hier: a ${trained.kind} model has no WordTree; only yolo9000 takes a hierarchy threshold`);
  const problem = size !== undefined ? exportSizeProblem(size) : undefined;
  if (problem) throw new Error(problem);
  // YOLOv2 is fully convolutional: the same weights export at any multiple of the stride (the paper's
  // speed/accuracy trade-off by input resolution); anchors are in grid cells, so they carry over
  const state: YoloState = size !== undefined ? { ...trained, size } : trained;
  const o = { ...(meta.options as unknown as YoloTrainOptions), out: e.out, val: e.val, hier, log };
  const model = buildModel(state, o.seed);
  restoreWeights(model, meta, weights);
  log(`${p}: ${meta.trainer} at step ${meta.step}, ${meta.seen} images`);
  await exportAndEvaluate(state, model, o, { step: meta.step, seen: meta.seen });
  return true;
}
