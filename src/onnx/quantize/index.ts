// Static int8 quantization of a float ONNX model: BatchNorm folded, activation ranges calibrated on
// preprocessed images, then QDQ with per-channel symmetric int8 weights (see qdq.ts).
import { onnx } from '../graph.ts';
import { calibrateRanges, type CalibrationMethod } from './calibrate.ts';
import { poolBeforeActivation } from './commute.ts';
import { foldBatchNorms } from './fold.ts';
import { insertQdq, planQuantization, type ActivationType } from './qdq.ts';
import { spaceToDepthImageLayers } from './space-to-depth.ts';
import { indexGraph, type Graph, type Node } from './tensors.ts';

export { CALIBRATION_METHODS, type CalibrationMethod } from './calibrate.ts';
export type { ActivationType } from './qdq.ts';

export interface QuantizeOptions {
  /** graph input fed with the calibration images, and its C, H, W */
  input: string;
  inputDims: [number, number, number];
  /** calibration images, each preprocessed exactly as the runtime feeds the model */
  calibration: readonly Float32Array[];
  method: CalibrationMethod;
  percentile?: number;
  activations: ActivationType;
  /**
   * Layers left in float32, by node name, or 'first' (the Conv/Gemm layers reading the graph input, with the
   * activation and pool after them: three input channels make a poor int8 GEMM, and the image is the tensor
   * whose rounding costs the most) and
   * 'last' (the layers producing the graph outputs: their logits feed the decoder directly).
   */
  keepFloat: readonly string[];
  /** run each activation -> MaxPool pair as MaxPool -> activation (commute.ts; default true) */
  poolFirst?: boolean;
  /**
   * the image layer (3x3 conv, activation, 2x2 pool) as a 2x2 convolution on SpaceToDepth(2) of the input
   * and a max over the pool's four phases (space-to-depth.ts; default true). That layer is then int8 (its
   * convolution no longer reads the graph input, so 'first' does not keep it float): measured faster.
   */
  spaceToDepth?: boolean;
}

export interface QuantizeResult {
  bytes: Uint8Array;
  foldedBatchNorms: number;
  /** activation -> MaxPool pairs run as MaxPool -> activation (commute.ts) */
  pooledFirst: number;
  /** image layers rewritten in SpaceToDepth form (space-to-depth.ts) */
  spaceToDepth: string[];
  quantizedNodes: number;
  activations: number;
  keptFloat: string[];
}

/** Conv/Gemm nodes that read a graph input. */
export function inputLayers(g: Graph): string[] {
  const inputs = new Set((g.input ?? []).map((i) => i.name!));
  return (g.node ?? []).filter((n) => (n.opType === 'Conv' || n.opType === 'Gemm') && inputs.has(n.input![0])).map((n) => n.name!);
}

// What follows a kept-float layer and stays float with it, up to the next compute layer. Measured (ORT 1.30
// CPU, one thread, kernel times): with int8 starting right after the float first conv, its uint8 MaxPool ran
// in NCHW (ORT's NHWC form wants an int8 producer): 4.2 of 27.6 ms per image on yolov2-tiny-voc@416, with
// the quantize, QLinearLeakyRelu and reorder around it ~3.5 ms more. Kept float, the activation fuses into
// the conv and the pool runs in ORT's blocked layout: 21-23 ms in all (the runtime also stops ORT from moving
// the QuantizeLinear back above the pool: src/runtime/ort-session.ts, int8 models).
const FOLLOWERS = new Set(['LeakyRelu', 'Relu', 'Sigmoid', 'MaxPool']);

/** `names` and, for each, the chain of activations and pools that alone consume its output. */
export function withFollowers(g: Graph, names: readonly string[]): string[] {
  const ix = indexGraph(g);
  const consumers = new Map<string, Node[]>();
  for (const n of g.node ?? []) for (const t of n.input ?? []) consumers.set(t, [...(consumers.get(t) ?? []), n]);
  const byName = new Map((g.node ?? []).map((n) => [n.name!, n]));
  const out: string[] = [];
  for (const name of names) {
    out.push(name);
    let n = byName.get(name);
    for (;;) {
      const t = n?.output?.[0];
      const next = t === undefined || ix.outputs.has(t) ? [] : consumers.get(t) ?? [];
      if (next.length !== 1 || !FOLLOWERS.has(next[0].opType!)) break;
      n = next[0];
      out.push(n.name!);
    }
  }
  return out;
}

/** Conv/Gemm nodes whose output reaches a graph output through pass-through nodes only. */
export function outputLayers(g: Graph): string[] {
  const ix = indexGraph(g);
  const out: string[] = [];
  for (const o of ix.outputs) {
    let n = ix.producer.get(o);
    while (n && ['Identity', 'Reshape', 'Transpose', 'Flatten'].includes(n.opType!)) n = ix.producer.get(n.input![0]);
    if (n && (n.opType === 'Conv' || n.opType === 'Gemm')) out.push(n.name!);
  }
  return out;
}

export async function quantizeModel(bytes: Uint8Array, o: QuantizeOptions): Promise<QuantizeResult> {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph as Graph;
  if (!(g.input ?? []).some((i) => i.name === o.input)) throw new Error(`the model has no input named ${o.input}`);
  const folded = foldBatchNorms(g);
  const s2d = o.spaceToDepth === false ? [] : spaceToDepthImageLayers(g);
  // the rearranged image (Pad + SpaceToDepth of the input) holds the input's values: calibrated exactly as it
  const exact = new Set([o.input, ...(g.node ?? []).filter((n) => s2d.includes(n.name!)).map((n) => n.input![0])]);
  const keep = new Set(o.keepFloat.flatMap((k) => (k === 'first' ? withFollowers(g, inputLayers(g)) : k === 'last' ? outputLayers(g) : [k])));
  const known = new Set((g.node ?? []).map((n) => n.name));
  for (const k of keep) if (!known.has(k)) throw new Error(`--keep-float: the model has no node named ${k}`);
  const pooledFirst = o.poolFirst === false ? 0 : poolBeforeActivation(g, keep);
  const plan = planQuantization(g, keep);
  const ranges = await calibrateRanges(model, o.input, o.inputDims, plan.calibrate, o.calibration, {
    method: o.method, percentile: o.percentile, exact,
  });
  const report = insertQdq(g, plan, ranges, o.activations);
  model.producerName = 'pinhole quantize';
  return { bytes: onnx.ModelProto.encode(model).finish(), foldedBatchNorms: folded, pooledFirst, spaceToDepth: s2d, ...report };
}
