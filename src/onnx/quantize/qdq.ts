// QDQ rewriting: QuantizeLinear/DequantizeLinear pairs around every activation of the quantized
// operators, int8 weights per output channel behind DequantizeLinear, int32 biases. This is the form ONNX
// Runtime's CPU provider fuses into QLinearConv / QGemm / QLinearLeakyRelu / QLinearConcat and int8
// MaxPool (QDQ selectors): the graph stays a valid float graph whose arithmetic is the int8 arithmetic.
import { tensorProto } from '../graph.ts';
import type { Range } from './calibrate.ts';
import { dimsOf, floatsOf, indexGraph, intAttr, namer, dropUnusedInitializers, type Graph, type Node } from './tensors.ts';

export type ActivationType = 'uint8' | 'int8';

/** Operators with their own quantized kernel (weights, if any, are input 1 and bias input 2). */
const COMPUTE = new Set(['Conv', 'Gemm', 'LeakyRelu', 'Concat', 'Relu', 'Sigmoid', 'Add']);
/** Operators that only move or select values: their output keeps their input's scale and zero point,
 * which is what lets ORT run them on int8 data and drop the Q/DQ around them. */
const PASS = new Set(['MaxPool', 'Reshape', 'Transpose', 'Flatten', 'Identity', 'Squeeze', 'Unsqueeze']);

export interface QuantPlan {
  /** nodes whose activations and weights are quantized */
  nodes: Set<Node>;
  /** activation tensors that get a Q/DQ pair, with the tensor whose calibrated range they use */
  tensors: Map<string, string>;
  /** tensors to calibrate (the roots of `tensors`' values) */
  calibrate: string[];
}

/**
 * Which nodes and tensors to quantize. `keepFloat` names nodes left in float32 (their float weights kept;
 * their activation inputs are still dequantized from int8 where the producer is quantized).
 */
export function planQuantization(g: Graph, keepFloat: ReadonlySet<string>): QuantPlan {
  const ix = indexGraph(g);
  const nodes = new Set((g.node ?? []).filter((n) => (COMPUTE.has(n.opType!) || PASS.has(n.opType!)) && !keepFloat.has(n.name!)));
  const graphInputs = new Set((g.input ?? []).map((i) => i.name!));
  const isActivation = (t: string) => !!t && !ix.inits.has(t) && (graphInputs.has(t) || ix.producer.has(t));
  const tensors = new Map<string, string>();
  // node order is topological: a pass-through node's input root is known when its output is reached
  for (const n of g.node ?? []) {
    if (!nodes.has(n)) continue;
    const out = n.output![0];
    if (PASS.has(n.opType!)) {
      // a pass-through node carries an int8 chain on, it never starts one (a float tail stays float)
      const root = tensors.get(n.input![0]);
      if (root !== undefined && !ix.outputs.has(out)) tensors.set(out, root);
      continue;
    }
    const acts = n.opType === 'Conv' || n.opType === 'Gemm' ? [n.input![0]] : (n.input ?? []).filter(isActivation);
    for (const t of acts) if (isActivation(t) && !tensors.has(t) && !ix.outputs.has(t)) tensors.set(t, t);
    if (!ix.outputs.has(out)) tensors.set(out, out);
  }
  const calibrate = [...new Set(tensors.values())];
  return { nodes, tensors, calibrate };
}

export interface QParams {
  scale: number;
  zeroPoint: number;
}

export function activationQParams(r: Range, type: ActivationType): QParams {
  const [qmin, qmax] = type === 'uint8' ? [0, 255] : [-128, 127];
  // zero must be exact: padding and the letterbox's zeros are zeros
  const lo = Math.min(r.min, 0), hi = Math.max(r.max, 0);
  if (hi - lo < 1e-12) return { scale: 1, zeroPoint: type === 'uint8' ? 0 : 0 };
  const scale = (hi - lo) / (qmax - qmin);
  const zeroPoint = Math.min(qmax, Math.max(qmin, Math.round(qmin - lo / scale))) || 0; // never -0
  return { scale, zeroPoint };
}

/** Symmetric int8 per output channel (zero point 0, [-127, 127]: no -128, so -w and w round alike). */
export function quantizeWeights(w: Float32Array, channels: number, channelOf: (i: number) => number): { q: Int8Array; scales: Float32Array } {
  const amax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(w[i]);
    if (a > amax[c]) amax[c] = a;
  }
  const scales = Float32Array.from(amax, (a) => (a > 0 ? a / 127 : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scales[channelOf(i)])));
  return { q, scales };
}

export interface QdqReport {
  quantizedNodes: number;
  activations: number;
  keptFloat: string[];
}

/**
 * A Conv / Gemm node's weights as int8 per output channel and its bias as int32 at scale w x x,
 * each behind a DequantizeLinear inserted before the node (`addBefore`), which then reads them.
 */
function quantizeNodeWeights(n: Node, xq: QParams, ix: ReturnType<typeof indexGraph>, inits: NonNullable<Graph['initializer']>,
  fresh: (hint: string) => string, addBefore: (n: Node, extra: Node) => void): void {
  const wInit = ix.inits.get(n.input![1]);
  if (!wInit) return;
  const w = floatsOf(wInit);
  const dims = dimsOf(wInit);
  let channels: number, channelOf: (i: number) => number, axis: number;
  if (n.opType === 'Conv') {
    channels = dims[0];
    const per = w.length / channels;
    channelOf = (i) => Math.floor(i / per);
    axis = 0;
  } else {
    // Gemm B is [K, N] (or [N, K] with transB): one scale per output column
    const transB = intAttr(n, 'transB', 0) === 1;
    channels = transB ? dims[0] : dims[1];
    const cols = dims[1];
    channelOf = transB ? (i) => Math.floor(i / cols) : (i) => i % cols;
    axis = transB ? 0 : 1;
  }
  const { q, scales } = quantizeWeights(w, channels, channelOf);
  const wq = fresh(`${n.input![1]}_quantized`), ws = fresh(`${n.input![1]}_scale`), wz = fresh(`${n.input![1]}_zero_point`), wd = fresh(`${n.input![1]}_dequantized`);
  inits.push(tensorProto(wq, q, dims), tensorProto(ws, scales, [channels]), tensorProto(wz, new Int8Array(channels), [channels]));
  addBefore(n, { opType: 'DequantizeLinear', input: [wq, ws, wz], output: [wd], name: fresh(`${wd}_node`), attribute: [{ name: 'axis', type: 2, i: axis }] });
  const inputs = [n.input![0], wd];
  const bName = n.input![2];
  const bInit = bName ? ix.inits.get(bName) : undefined;
  if (bInit) {
    const b = floatsOf(bInit);
    const bs = Float32Array.from(scales, (sw) => sw * xq.scale);
    const bq = Int32Array.from(b, (v, c) => Math.round(v / bs[c]));
    const qn = fresh(`${bName}_quantized`), sn = fresh(`${bName}_scale`), zn = fresh(`${bName}_zero_point`), dn = fresh(`${bName}_dequantized`);
    inits.push(tensorProto(qn, bq, [b.length]), tensorProto(sn, bs, [b.length]), tensorProto(zn, new Int32Array(b.length), [b.length]));
    addBefore(n, { opType: 'DequantizeLinear', input: [qn, sn, zn], output: [dn], name: fresh(`${dn}_node`), attribute: [{ name: 'axis', type: 2, i: 0 }] });
    inputs.push(dn);
  }
  n.input = inputs;
}

/** Rewrites `g` in place into QDQ form with the calibrated `ranges` (keys: plan.calibrate). */
export function insertQdq(g: Graph, plan: QuantPlan, ranges: ReadonlyMap<string, Range>, type: ActivationType): QdqReport {
  const ix = indexGraph(g);
  const used = new Set<string>([...(g.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]), ...ix.inits.keys()]);
  const fresh = namer(used);
  const inits = g.initializer ?? [];
  const zp = (v: number) => (type === 'uint8' ? Uint8Array.of(v) : Int8Array.of(v));
  const qp = new Map<string, QParams>();
  for (const [t, root] of plan.tensors) {
    const r = ranges.get(root);
    if (!r) throw new Error(`no calibrated range for tensor ${root}`);
    qp.set(t, activationQParams(r, type));
  }
  const before = new Map<Node, Node[]>();
  const addBefore = (n: Node, extra: Node) => before.set(n, [...(before.get(n) ?? []), extra]);
  const after = new Map<Node, Node[]>();
  const graphInputQ: Node[] = [];
  // the activation each Conv/Gemm reads, before the rewiring below renames it to its DQ output
  const xOf = new Map([...plan.nodes].map((n) => [n, n.input![0]]));

  // activations: one Q after the producer, one DQ per consumer (ORT's QDQ groups want a DQ of their own)
  for (const [t, p] of qp) {
    const s = fresh(`${t}_scale`), z = fresh(`${t}_zero_point`), q = fresh(`${t}_quantized`);
    inits.push(tensorProto(s, Float32Array.of(p.scale), []), tensorProto(z, zp(p.zeroPoint), []));
    const qNode: Node = { opType: 'QuantizeLinear', input: [t, s, z], output: [q], name: fresh(`${t}_QuantizeLinear`) };
    const prod = ix.producer.get(t);
    if (prod) after.set(prod, [...(after.get(prod) ?? []), qNode]);
    else graphInputQ.push(qNode);
    for (const c of ix.consumers.get(t) ?? []) {
      const d = fresh(`${t}_dequantized`);
      addBefore(c, { opType: 'DequantizeLinear', input: [q, s, z], output: [d], name: fresh(`${t}_DequantizeLinear`) });
      c.input = c.input!.map((x) => (x === t ? d : x));
    }
  }

  // weights and biases of the quantized Conv / Gemm nodes
  for (const n of plan.nodes) {
    if (n.opType !== 'Conv' && n.opType !== 'Gemm') continue;
    const xq = qp.get(xOf.get(n)!);
    if (xq) quantizeNodeWeights(n, xq, ix, inits, fresh, addBefore);
  }

  const nodes: Node[] = [...graphInputQ];
  for (const n of g.node ?? []) nodes.push(...(before.get(n) ?? []), n, ...(after.get(n) ?? []));
  g.node = nodes;
  g.initializer = inits;
  dropUnusedInitializers(g);
  const all = (g.node ?? []).filter((n) => n.opType !== 'QuantizeLinear' && n.opType !== 'DequantizeLinear');
  return {
    quantizedNodes: plan.nodes.size,
    activations: qp.size,
    keptFloat: all.filter((n) => !plan.nodes.has(n) && (n.opType === 'Conv' || n.opType === 'Gemm')).map((n) => n.name!),
  };
}
