// model.json: the contract between producers (darknet import, training/export) and the server.
// SPEC.md fixes the required fields; this module types them and validates a parsed file.
import { need } from './errors.ts';

export type ModelKind = 'yolov1' | 'yolov2' | 'yolo9000' | 'stackgan' | 'wgan';
export type DetectorKind = 'yolov1' | 'yolov2' | 'yolo9000';

export interface InputSpec {
  width: number;
  height: number;
  channels: number;
  layout: 'NCHW';
}

/** How the picture becomes the network input (see src/vision/letterbox.ts). */
export type PreprocessKind = 'letterbox' | 'resize' | 'pad-square';
/** pad-square: where the image sits in its square; the padding goes to the other side(s). */
export type PadPosition = 'top-left' | 'center';

interface ManifestBase {
  name: string;
  kind: ModelKind;
  input: InputSpec;
  preprocess: PreprocessKind;
  /**
   * pad-square only (default top-left): the image is padded to a square at its own resolution, then
   * the square is resized to the input (face-api's padToSquare before its resize).
   */
  pad?: PadPosition;
  /** pad-square only: the padding's value in pixel units, 0-255 (default 0, black) */
  pad_value?: number;
  /**
   * Per-channel normalisation in pixel units: input = (pixel - mean[c]) / std[c] (RGB order).
   * Absent: darknet's pixel / 255, i.e. mean 0 and std 255.
   */
  mean?: number[];
  std?: number[];
  /**
   * How the picture is resized: bilinear-darknet (darknet's resize_image, value for value), cubic
   * (sharp's antialiased reduction) or bilinear-tf (TensorFlow's resize_bilinear, no half-pixel centres,
   * no antialiasing: what tfjs models saw). Absent: darknet's, except for a picture that sharp shrinks while
   * decoding (a JPEG reduced 3x or more, a WebP reduced at all), which gets cubic (runtime/preprocess.ts exactDarknet).
   */
  resample?: 'bilinear-darknet' | 'cubic' | 'bilinear-tf';
  names: string[];
  source: 'darknet' | 'pinhole-train' | 'face-api';
  /** where the weights come from and under which licence (imported third-party models) */
  origin?: { url?: string; package?: string; version?: string; files?: string[]; licence?: string; authors?: string };
  /** default score threshold of this model (else the server's .25) */
  thresh?: number;
  /** ONNX tensor names; defaults: first graph input / outputs in graph order. */
  onnx?: { input?: string; outputs?: string[] };
  /** Evaluation figures for trained models (mAP, agreement, ...), with how they were measured. */
  metrics?: Record<string, unknown>;
  description?: string;
  /** numeric precision of model.onnx: absent means float32; int8 folders are written by `pinhole quantize` */
  precision?: 'fp32' | 'int8';
  /** how an int8 folder was made: its float source, calibration method and data */
  quantization?: Record<string, unknown>;
}

/** YOLOv1 detection layer. Output layout: probs [S*S][C], conf [S*S][B], boxes [S*S][B][4]. */
export interface YoloV1Manifest extends ManifestBase {
  kind: 'yolov1';
  side: number;
  num: number;
  sqrt: boolean;
  softmax: boolean;
  /** NMS IoU default for this model (darknet's `yolo test` uses .4). */
  nms?: number;
}

/** YOLOv2 region layer. Output layout [anchor][entry][h][w]: tx ty tw th to classes... */
export interface YoloV2Manifest extends ManifestBase {
  kind: 'yolov2';
  num: number;
  /** anchor (w, h) pairs in grid-cell units, length 2*num. */
  anchors: number[];
  coords: number;
  softmax: boolean;
  background?: boolean;
  /**
   * false: the region output has no class entries (tx ty tw th to per anchor) and the model's single
   * class is scored by its objectness alone (face-api's one-class TinyYolov2). Default true.
   */
  class_scores?: boolean;
  nms?: number;
}

export interface WordTreeSpec {
  /** parent index per node, -1 for roots; every parent precedes its children. */
  parents: number[];
  /** WordNet ids or darknet 9k.tree labels, one per node. */
  labels?: string[];
}

export interface Yolo9000Manifest extends Omit<YoloV2Manifest, 'kind'> {
  kind: 'yolo9000';
  /**
   * Hierarchy threshold default for this model (darknet's .5 otherwise). A trained tree model may carry
   * the value chosen on its validation set: at .5 darknet's descent, which counts ancestors twice,
   * stops deep leaves at their parents.
   */
  hier?: number;
  /** inline tree, or a file in the model folder in darknet's 9k.tree format. */
  tree: WordTreeSpec | string;
}

/** The tokenizer of a text-to-image model (runtime/text.ts encodes with it). */
export interface TextSpec {
  /** id -> word; vocabulary[0] = PAD, vocabulary[1] = UNK */
  vocabulary: string[];
  /** ids per caption: shorter captions are padded with PAD, longer ones cut */
  maxTokens: number;
  /** longest text accepted (characters), to refuse huge requests before tokenising */
  maxChars: number;
}

/** The padding and unknown-word tokens, the first two words of every vocabulary. */
export const PAD = '<pad>';
export const UNK = '<unk>';

interface GanManifestBase extends ManifestBase {
  /** noise size per image */
  zDim: number;
  /** range of the generator's output values (tanh: [-1, 1]) */
  outputRange?: number[];
  /** how the model was trained (configuration, curves), for the record */
  training?: Record<string, unknown>;
}

/** StackGAN: text (token ids), noise z and conditioning noise eps in; one image per stage out. */
export interface StackGanManifest extends GanManifestBase {
  kind: 'stackgan';
  text: TextSpec;
  /** ONNX input names */
  inputs: { tokens: string; noise: string; eps: string };
  cDim: number;
  /** ONNX output per stage, with its image side in pixels */
  stages: Record<'1' | '2', { output: string; size: number }>;
  /** the caption grammar the model was trained on, for the record */
  captions?: Record<string, unknown>;
  /** the attribute judge shipped beside the model (evaluation) */
  judge?: { file: string; input: string; outputs: string[]; size: number };
}

/** WGAN: noise z in, images out; `input` holds the (square) image size. */
export interface WganManifest extends GanManifestBase {
  kind: 'wgan';
  inputs: { noise: string };
  /** ONNX output name */
  output: string;
}

export type GanManifest = StackGanManifest | WganManifest;

export type Manifest = YoloV1Manifest | YoloV2Manifest | Yolo9000Manifest | GanManifest;
export type DetectorManifest = YoloV1Manifest | YoloV2Manifest | Yolo9000Manifest;

export const DETECTOR_KINDS: readonly DetectorKind[] = ['yolov1', 'yolov2', 'yolo9000'];

export function isDetector(m: Pick<Manifest, 'kind'>): m is DetectorManifest {
  return (DETECTOR_KINDS as readonly string[]).includes(m.kind);
}

export class ManifestError extends Error {}

function check(cond: unknown, msg: string): asserts cond {
  need(cond, () => new ManifestError(`model.json: ${msg}`));
}

type Fields = Record<string, unknown>;

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isObject = (v: unknown): v is Fields => !!v && typeof v === 'object' && !Array.isArray(v);

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const RESAMPLES = ['bilinear-darknet', 'cubic', 'bilinear-tf'];

/** pad-square's pad/pad_value and the mean/std normalisation. */
function checkPixelOptions(o: Fields, channels: number): void {
  check(o.pad === undefined || o.pad === 'top-left' || o.pad === 'center', '"pad" must be top-left or center');
  check(o.pad_value === undefined || (isNum(o.pad_value) && o.pad_value >= 0 && o.pad_value <= 255), '"pad_value" must be a number in [0, 255]');
  check((o.pad === undefined && o.pad_value === undefined) || o.preprocess === 'pad-square', '"pad" and "pad_value" apply to preprocess pad-square only');
  check(o.resample === undefined || RESAMPLES.includes(o.resample as string), `"resample" must be ${RESAMPLES.join(', ')}`);
  check(o.resample !== 'bilinear-darknet' || o.preprocess !== 'pad-square', '"resample" bilinear-darknet applies to letterbox and resize (darknet has no pad-square)');
  check((o.mean === undefined) === (o.std === undefined), '"mean" and "std" go together');
  if (o.mean !== undefined) {
    check(Array.isArray(o.mean) && o.mean.length === channels && o.mean.every(isNum), `"mean" must hold ${channels} numbers (one per input channel)`);
    check(Array.isArray(o.std) && o.std.length === channels && o.std.every((v) => isNum(v) && v > 0),
      `"std" must hold ${channels} positive numbers (one per input channel)`);
  }
}

function checkBase(o: Fields): void {
  check(isName(o.name), '"name" must be a non-empty string');
  const kinds: ModelKind[] = ['yolov1', 'yolov2', 'yolo9000', 'stackgan', 'wgan'];
  check(kinds.includes(o.kind as ModelKind), `"kind" must be one of ${kinds.join(', ')}`);
  const inp = o.input;
  check(isObject(inp), '"input" is required');
  check(isPosInt(inp.width) && isPosInt(inp.height) && isPosInt(inp.channels), 'input.width/height/channels must be positive integers');
  check(inp.layout === 'NCHW', 'input.layout must be "NCHW"');
  const pre: PreprocessKind[] = ['letterbox', 'resize', 'pad-square'];
  check(pre.includes(o.preprocess as PreprocessKind), `"preprocess" must be one of ${pre.join(', ')}`);
  checkPixelOptions(o, inp.channels as number);
  check(Array.isArray(o.names) && o.names.every((n) => typeof n === 'string'), '"names" must be an array of strings');
  const sources = ['darknet', 'pinhole-train', 'face-api'];
  check(sources.includes(o.source as string), `"source" must be one of ${sources.join(', ')}`);
  for (const k of ['nms', 'hier', 'thresh'] as const) {
    check(o[k] === undefined || (typeof o[k] === 'number' && (o[k] as number) >= 0 && (o[k] as number) <= 1), `"${k}" must be a number in [0, 1]`);
  }
  check(o.precision === undefined || o.precision === 'fp32' || o.precision === 'int8', '"precision" must be fp32 or int8');
  check(o.hier === undefined || o.kind === 'yolo9000', '"hier" applies to yolo9000 models only');
}

function checkYoloV1(o: Fields): void {
  check(isPosInt(o.side) && isPosInt(o.num), 'yolov1 needs positive integer "side" and "num"');
  check(typeof o.sqrt === 'boolean' && typeof o.softmax === 'boolean', 'yolov1 needs boolean "sqrt" and "softmax"');
}

function checkRegion(o: Fields): void {
  check(isPosInt(o.num), '"num" must be a positive integer');
  check(Array.isArray(o.anchors) && o.anchors.length === 2 * o.num && o.anchors.every((a) => typeof a === 'number' && a > 0),
    '"anchors" must hold 2*num positive numbers');
  check(o.coords === 4, '"coords" must be 4');
  check(typeof o.softmax === 'boolean', '"softmax" must be boolean');
  check(o.class_scores === undefined || typeof o.class_scores === 'boolean', '"class_scores" must be boolean');
  check(o.class_scores !== false || (o.kind === 'yolov2' && (o.names as string[]).length === 1),
    '"class_scores": false needs a yolov2 model with exactly one class name');
}

function checkTree(o: Fields): void {
  const t = o.tree;
  check(typeof t === 'string' || (isObject(t) && Array.isArray(t.parents)), 'yolo9000 needs "tree" (a tree file name or {"parents": [...]})');
  if (typeof t === 'object') {
    const parents = t.parents as number[];
    const names = o.names as string[];
    check(parents.length === names.length, `tree has ${parents.length} nodes but there are ${names.length} names`);
    check(parents.every((p, i) => Number.isInteger(p) && p >= -1 && p < i), 'tree parents must precede their children');
  }
}

/** The tokenizer section of a stackgan model.json. */
export function checkTextSpec(t: unknown): asserts t is TextSpec {
  check(isObject(t), '"text" (the tokenizer: vocabulary, maxTokens, maxChars) is required');
  const v = t.vocabulary;
  check(Array.isArray(v) && v.length >= 3 && v.every((w) => typeof w === 'string'), 'text.vocabulary must be an array of at least 3 words');
  check(v[0] === PAD && v[1] === UNK, `text.vocabulary must start with "${PAD}", "${UNK}"`);
  check(isPosInt(t.maxTokens), 'text.maxTokens must be a positive integer');
  check(isPosInt(t.maxChars), 'text.maxChars must be a positive integer');
}

function checkStackGan(o: Fields): void {
  checkTextSpec(o.text);
  const inputs = o.inputs;
  check(isObject(inputs) && isName(inputs.tokens) && isName(inputs.noise) && isName(inputs.eps), 'stackgan needs "inputs": {"tokens", "noise", "eps"} (ONNX input names)');
  check(isPosInt(o.zDim) && isPosInt(o.cDim), 'stackgan needs positive integer "zDim" and "cDim"');
  const stages = o.stages;
  check(isObject(stages), 'stackgan needs "stages": {"1": {"output", "size"}, "2": {...}}');
  for (const k of ['1', '2']) {
    const st = stages[k];
    check(isObject(st) && isName(st.output) && isPosInt(st.size), `stages["${k}"] needs "output" (ONNX output name) and "size"`);
  }
}

function checkWgan(o: Fields): void {
  const inputs = o.inputs;
  check(isObject(inputs) && isName(inputs.noise), 'wgan needs "inputs": {"noise"} (ONNX input name)');
  check(isPosInt(o.zDim), 'wgan needs a positive integer "zDim"');
  check(isName(o.output), 'wgan needs "output" (ONNX output name)');
  const inp = o.input as Fields;
  check(inp.width === inp.height, 'wgan needs a square "input" (the image size)');
}

const KIND_CHECKS: Record<ModelKind, Array<(o: Fields) => void>> = {
  yolov1: [checkYoloV1],
  yolov2: [checkRegion],
  yolo9000: [checkRegion, checkTree],
  stackgan: [checkStackGan],
  wgan: [checkWgan],
};

/**
 * Validates a parsed model.json, every kind in full (the generators' sections too); returns it typed
 * or throws ManifestError naming the bad field. The one place a model.json is checked.
 */
export function validateManifest(m: unknown): Manifest {
  check(isObject(m), 'must be a JSON object');
  checkBase(m);
  for (const f of KIND_CHECKS[m.kind as ModelKind]) f(m);
  // every field the type promises was checked above, kind by kind
  return m as unknown as Manifest;
}
