// Static tensor shapes of a decoded ONNX graph, as far as the ops Pinhole's importers and exporters write
// can tell them (the Winograd pass needs each candidate Conv's input height and width). A dimension that
// cannot be known (the batch, an op not listed here) is null; a tensor with no entry is unknown, and a
// Conv reading it is simply left alone.
import { dimsOf, intAttr, intsAttr, strAttr, type Graph, type Node, type Tensor } from '../quantize/tensors.ts';

export type Shape = Array<number | null>;

const SAME_SHAPE = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Identity', 'Clip', 'Elu', 'Selu', 'Softplus', 'Softsign', 'PRelu',
  'Dropout', 'BatchNormalization', 'Erf', 'ThresholdedRelu', 'HardSigmoid', 'HardSwish', 'Mish', 'Cast',
  'Softmax', 'LogSoftmax', 'Exp', 'Log', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'InstanceNormalization',
  'LRN',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']);

const int64s = (t: Tensor): number[] => {
  if (t.rawData?.length) {
    const r = t.rawData;
    return Array.from(new BigInt64Array(r.buffer.slice(r.byteOffset, r.byteOffset + r.byteLength)), Number);
  }
  return (t.int64Data ?? []).map(Number);
};

/** Output size of a sliding window (Conv, pools) along one axis; null when the input size is. */
function window(n: Node, x: Shape, kernel: number[]): Shape | undefined {
  const rank = kernel.length;
  const strides = intsAttr(n, 'strides') ?? kernel.map(() => 1);
  const dil = intsAttr(n, 'dilations') ?? kernel.map(() => 1);
  const pads = intsAttr(n, 'pads') ?? kernel.map(() => 0).concat(kernel.map(() => 0));
  const auto = strAttr(n, 'auto_pad') ?? 'NOTSET';
  const ceil = intAttr(n, 'ceil_mode', 0) === 1;
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const size = x[2 + i];
    if (size === null || size === undefined) {
      out.push(null);
      continue;
    }
    const span = (kernel[i] - 1) * dil[i] + 1;
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') out.push(Math.ceil(size / strides[i]));
    else if (auto === 'VALID') out.push(Math.floor((size - span) / strides[i]) + 1);
    else {
      const r = (size + pads[i] + pads[i + rank] - span) / strides[i];
      out.push((ceil ? Math.ceil(r) : Math.floor(r)) + 1);
    }
  }
  return out;
}

function broadcast(shapes: Shape[]): Shape | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d: number | null = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (v === null || d === null) d = d === 1 ? v : null;
      else if (d !== 1 && d !== v) return undefined;
      else d = v;
    }
    out.push(d);
  }
  return out;
}

function reshape(x: Shape, target: number[]): Shape | undefined {
  const out: Shape = target.map((d, i) => (d === 0 ? x[i] ?? null : d));
  const minus = out.indexOf(-1);
  if (minus < 0) return out;
  const known = (s: Shape) => s.every((d) => d !== null);
  const rest = out.filter((_, i) => i !== minus);
  if (known(x) && known(rest)) {
    const total = (x as number[]).reduce((a, b) => a * b, 1);
    out[minus] = total / (rest as number[]).reduce((a, b) => a * b, 1);
  } else out[minus] = null;
  return out;
}

function infer(n: Node, ins: Array<Shape | undefined>, inits: Map<string, Tensor>): Shape | undefined {
  const op = n.opType!;
  const x = ins[0];
  if (!x) return undefined;
  if (SAME_SHAPE.has(op)) return x;
  if (BROADCAST.has(op)) return ins.every(Boolean) ? broadcast(ins as Shape[]) : undefined;
  switch (op) {
    case 'Conv': {
      const w = inits.get(n.input![1]) ?? undefined;
      const wd = w ? dimsOf(w) : undefined;
      const kernel = intsAttr(n, 'kernel_shape') ?? wd?.slice(2);
      if (!wd || !kernel) return undefined;
      const sp = window(n, x, kernel);
      return sp && [x[0], wd[0], ...sp];
    }
    case 'MaxPool': case 'AveragePool': {
      const kernel = intsAttr(n, 'kernel_shape');
      const sp = kernel && window(n, x, kernel);
      return sp && [x[0], x[1], ...sp];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool':
      return [x[0], x[1], ...x.slice(2).map(() => 1)];
    case 'Concat': {
      if (!ins.every(Boolean)) return undefined;
      const axis = (intAttr(n, 'axis', 0) + x.length) % x.length;
      const out = [...x];
      out[axis] = (ins as Shape[]).reduce<number | null>((a, s) => (a === null || s[axis] === null ? null : a + s[axis]!), 0);
      return out;
    }
    case 'DepthToSpace': case 'SpaceToDepth': {
      const b = intAttr(n, 'blocksize', 1);
      const up = op === 'DepthToSpace';
      const scale = (d: number | null, f: number) => (d === null ? null : f > 0 ? d * f : d / -f);
      return [x[0], scale(x[1], up ? -(b * b) : b * b), scale(x[2], up ? b : -b), scale(x[3], up ? b : -b)];
    }
    case 'Reshape': {
      const t = inits.get(n.input![1]);
      return t && reshape(x, int64s(t));
    }
    case 'Transpose': {
      const perm = intsAttr(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      return perm.map((p) => x[p] ?? null);
    }
    default:
      return undefined;
  }
}

/** Shapes of every tensor the graph's inputs and initializers determine. */
export function inferShapes(g: Graph): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  for (const t of inits.values()) shapes.set(t.name!, dimsOf(t));
  for (const i of g.input ?? []) {
    const dims = i.type?.tensorType?.shape?.dim;
    if (!dims || inits.has(i.name!)) continue;
    shapes.set(i.name!, dims.map((d) => (!d.dimParam && Number(d.dimValue ?? 0) > 0 ? Number(d.dimValue) : null)));
  }
  // nodes are topologically sorted in a valid ONNX graph
  for (const n of g.node ?? []) {
    const s = infer(n, (n.input ?? []).map((t) => shapes.get(t)), inits);
    if (s && n.output?.[0]) shapes.set(n.output[0], s);
  }
  return shapes;
}
