// model.json: the contract between producers (darknet import, training/export) and the server.
// SPEC.md fixes the required fields; this module types them and validates a parsed file.

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
   * How the picture is resized: cubic (default; sharp's antialiased reduction) or bilinear-tf
   * (TensorFlow's resize_bilinear, no half-pixel centres, no antialiasing: what tfjs models saw).
   */
  resample?: 'cubic' | 'bilinear-tf';
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

export interface GanManifest extends ManifestBase {
  kind: 'stackgan' | 'wgan';
  [extra: string]: unknown;
}

export type Manifest = YoloV1Manifest | YoloV2Manifest | Yolo9000Manifest | GanManifest;
export type DetectorManifest = YoloV1Manifest | YoloV2Manifest | Yolo9000Manifest;

export const DETECTOR_KINDS: readonly DetectorKind[] = ['yolov1', 'yolov2', 'yolo9000'];

export function isDetector(m: Pick<Manifest, 'kind'>): m is DetectorManifest {
  return (DETECTOR_KINDS as readonly string[]).includes(m.kind);
}

export class ManifestError extends Error {}

function need(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new ManifestError(msg);
}

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** pad-square's pad/pad_value and the mean/std normalisation. */
function validatePixelOptions(o: Record<string, unknown>, channels: number): void {
  need(o.pad === undefined || o.pad === 'top-left' || o.pad === 'center', 'model.json: "pad" must be top-left or center');
  need(o.pad_value === undefined || (isNum(o.pad_value) && o.pad_value >= 0 && o.pad_value <= 255),
    'model.json: "pad_value" must be a number in [0, 255]');
  need((o.pad === undefined && o.pad_value === undefined) || o.preprocess === 'pad-square',
    'model.json: "pad" and "pad_value" apply to preprocess pad-square only');
  need(o.resample === undefined || o.resample === 'cubic' || o.resample === 'bilinear-tf', 'model.json: "resample" must be cubic or bilinear-tf');
  need((o.mean === undefined) === (o.std === undefined), 'model.json: "mean" and "std" go together');
  if (o.mean !== undefined) {
    need(Array.isArray(o.mean) && o.mean.length === channels && o.mean.every(isNum),
      `model.json: "mean" must hold ${channels} numbers (one per input channel)`);
    need(Array.isArray(o.std) && o.std.length === channels && o.std.every((v) => isNum(v) && v > 0),
      `model.json: "std" must hold ${channels} positive numbers (one per input channel)`);
  }
}

/** Validates a parsed model.json; returns it typed or throws ManifestError naming the bad field. */
export function validateManifest(m: unknown): Manifest {
  need(m && typeof m === 'object' && !Array.isArray(m), 'model.json must be a JSON object');
  const o = m as Record<string, unknown>;
  need(typeof o.name === 'string' && o.name.length > 0, 'model.json: "name" must be a non-empty string');
  const kinds: ModelKind[] = ['yolov1', 'yolov2', 'yolo9000', 'stackgan', 'wgan'];
  need(kinds.includes(o.kind as ModelKind), `model.json: "kind" must be one of ${kinds.join(', ')}`);
  const inp = o.input as Record<string, unknown> | undefined;
  need(inp && typeof inp === 'object', 'model.json: "input" is required');
  need(isPosInt(inp.width) && isPosInt(inp.height) && isPosInt(inp.channels),
    'model.json: input.width/height/channels must be positive integers');
  need(inp.layout === 'NCHW', 'model.json: input.layout must be "NCHW"');
  const pre: PreprocessKind[] = ['letterbox', 'resize', 'pad-square'];
  need(pre.includes(o.preprocess as PreprocessKind), `model.json: "preprocess" must be one of ${pre.join(', ')}`);
  validatePixelOptions(o, inp.channels as number);
  need(Array.isArray(o.names) && o.names.every((n) => typeof n === 'string'), 'model.json: "names" must be an array of strings');
  const sources = ['darknet', 'pinhole-train', 'face-api'];
  need(sources.includes(o.source as string), `model.json: "source" must be one of ${sources.join(', ')}`);
  const names = o.names as string[];
  for (const k of ['nms', 'hier', 'thresh'] as const) {
    need(o[k] === undefined || (typeof o[k] === 'number' && (o[k] as number) >= 0 && (o[k] as number) <= 1),
      `model.json: "${k}" must be a number in [0, 1]`);
  }
  need(o.precision === undefined || o.precision === 'fp32' || o.precision === 'int8', 'model.json: "precision" must be fp32 or int8');
  need(o.hier === undefined || o.kind === 'yolo9000', 'model.json: "hier" applies to yolo9000 models only');
  if (o.kind === 'yolov1') {
    need(isPosInt(o.side) && isPosInt(o.num), 'model.json: yolov1 needs positive integer "side" and "num"');
    need(typeof o.sqrt === 'boolean' && typeof o.softmax === 'boolean', 'model.json: yolov1 needs boolean "sqrt" and "softmax"');
  }
  if (o.kind === 'yolov2' || o.kind === 'yolo9000') {
    need(isPosInt(o.num), 'model.json: "num" must be a positive integer');
    need(Array.isArray(o.anchors) && o.anchors.length === 2 * (o.num as number) && o.anchors.every((a) => typeof a === 'number' && a > 0),
      'model.json: "anchors" must hold 2*num positive numbers');
    need(o.coords === 4, 'model.json: "coords" must be 4');
    need(typeof o.softmax === 'boolean', 'model.json: "softmax" must be boolean');
    need(o.class_scores === undefined || typeof o.class_scores === 'boolean', 'model.json: "class_scores" must be boolean');
    need(o.class_scores !== false || (o.kind === 'yolov2' && names.length === 1),
      'model.json: "class_scores": false needs a yolov2 model with exactly one class name');
  }
  if (o.kind === 'yolo9000') {
    const t = o.tree;
    need(typeof t === 'string' || (t && typeof t === 'object' && Array.isArray((t as WordTreeSpec).parents)),
      'model.json: yolo9000 needs "tree" (a tree file name or {"parents": [...]})');
    if (typeof t === 'object') {
      const parents = (t as WordTreeSpec).parents;
      need(parents.length === names.length, `model.json: tree has ${parents.length} nodes but there are ${names.length} names`);
      need(parents.every((p, i) => Number.isInteger(p) && p >= -1 && p < i), 'model.json: tree parents must precede their children');
    }
  }
  return o as unknown as Manifest;
}
