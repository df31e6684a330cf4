// The image layer of a darknet detector (a 3x3 stride-1 convolution on the 3-channel input, a monotone
// activation, a 2x2/2 max pool) rewritten as: Pad 1 -> SpaceToDepth 2 -> a 2x2 convolution with 12 input
// channels producing the four pool phases of each output channel -> the max of the four phase groups
// (a 1x4 max pool over a view of its NHWC form) -> the activation. Exact: output pixel (i, j) of phase (a, b) is the 3x3 convolution at
// (2i + a, 2j + b), whose 3x3 window lies in the 2x2 block of padded 2x2 cells at (i, j); the pool is the
// max over the phases, and max commutes with the activation (commute.ts). What it buys (ORT 1.30 CPU,
// bench/first-layer.ts): no full-resolution tensor after the convolution, no NCHW pool or reorder of it,
// and an int8 GEMM with K = 48 instead of 27, which ORT's QLinearConv runs well where the 3-channel one
// did not (bench/README.md, "The image layer in SpaceToDepth form").
import { tensorProto } from '../graph.ts';
import { isMonotone } from './commute.ts';
import { dimsOf, floatsOf, indexGraph, intAttr, intsAttr, namer, strAttr, dropUnusedInitializers, type Graph, type Node } from './tensors.ts';

const same = (a: number[] | undefined, b: number[]) => (a ?? b).length === b.length && (a ?? b).every((v, i) => v === b[i]);

/** A 3x3, stride 1, pad 1, ungrouped, undilated Conv with its weights (and bias, if any) as initializers. */
function eligibleConv(n: Node, ix: ReturnType<typeof indexGraph>): boolean {
  const w = ix.inits.get(n.input?.[1] ?? '');
  if (n.opType !== 'Conv' || !w || dimsOf(w).length !== 4 || dimsOf(w)[2] !== 3 || dimsOf(w)[3] !== 3) return false;
  if (n.input![2] && !ix.inits.has(n.input![2])) return false;
  const pad = strAttr(n, 'auto_pad');
  return (pad === undefined || pad === 'NOTSET') && intAttr(n, 'group', 1) === 1 && same(intsAttr(n, 'strides'), [1, 1])
    && same(intsAttr(n, 'dilations'), [1, 1]) && same(intsAttr(n, 'pads'), [1, 1, 1, 1]);
}

/** A MaxPool 2x2 stride 2, no padding, floor, one output. */
function isPool2(n: Node | undefined): boolean {
  if (!n || n.opType !== 'MaxPool' || (n.output ?? []).filter(Boolean).length !== 1) return false;
  const pad = strAttr(n, 'auto_pad');
  return (pad === undefined || pad === 'NOTSET') && same(intsAttr(n, 'kernel_shape'), [2, 2]) && same(intsAttr(n, 'strides'), [2, 2])
    && same(intsAttr(n, 'pads'), [0, 0, 0, 0]) && intAttr(n, 'ceil_mode', 0) === 0 && same(intsAttr(n, 'dilations'), [1, 1])
    && intAttr(n, 'storage_order', 0) === 0;
}

/**
 * The 3x3 kernel [C, Cin, 3, 3] as the 2x2 kernel [4C, 4Cin, 2, 2] over SpaceToDepth(2) of the once-padded
 * input: output channel p * C + o is phase p = a * 2 + b of channel o; input channel (dy * 2 + dx) * Cin + c
 * is SpaceToDepth's (DCR) order.
 */
export function phaseKernel(w: Float32Array, C: number, Cin: number): Float32Array {
  const K = 4 * Cin;
  const k = new Float32Array(4 * C * K * 4);
  for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) for (let o = 0; o < C; o++) {
    const out = (a * 2 + b) * C + o;
    for (let u = 0; u < 2; u++) for (let dy = 0; dy < 2; dy++) {
      const ky = 2 * u + dy - a;
      if (ky < 0 || ky > 2) continue;
      for (let v = 0; v < 2; v++) for (let dx = 0; dx < 2; dx++) {
        const kx = 2 * v + dx - b;
        if (kx < 0 || kx > 2) continue;
        for (let c = 0; c < Cin; c++) k[((out * K + (dy * 2 + dx) * Cin + c) * 2 + u) * 2 + v] = w[((o * Cin + c) * 3 + ky) * 3 + kx];
      }
    }
  }
  return k;
}

/**
 * The max over the four phase groups of `phases` ([N, 4C, h, w], channel p * C + o) into `out` ([N, C, h, w]),
 * as a 1x4 max pool over a [N, C, h * w, 4] view of its NHWC form. ORT's int8 graph holds QLinearConv outputs
 * in NHWC, so the transposes here cancel against its own and the max runs as its uint8 NHWC max pool, with
 * two free reshapes around it (bench/first-layer.ts, int8 at 320x320 with C = 8: 1.3 ms of CPU for the layer
 * against 1.8 for Split + Max in float between a DequantizeLinear and a QuantizeLinear).
 */
function phaseMax(phases: string, out: string, [h, w]: [number, number], C: number, fresh: (hint: string) => string,
  inits: NonNullable<Graph['initializer']>): Node[] {
  const shape = (hint: string, v: number[]) => {
    const name = fresh(hint);
    inits.push(tensorProto(name, BigInt64Array.from(v.map(BigInt)), [v.length]));
    return name;
  };
  const t = [fresh('phases_nhwc'), fresh('phases_view'), fresh('phases_view_nchw'), fresh('phases_max'), fresh('max_nhwc_view'), fresh('max_nhwc')];
  const perm = (p: number[]) => [{ name: 'perm', type: 7, ints: p }];
  const toNhwc = perm([0, 2, 3, 1]), toNchw = perm([0, 3, 1, 2]);
  return [
    { opType: 'Transpose', input: [phases], output: [t[0]], name: fresh('phases_nhwc_node'), attribute: toNhwc },
    { opType: 'Reshape', input: [t[0], shape('phases_view_shape', [0, h * w, 4, C])], output: [t[1]], name: fresh('phases_view_node') },
    { opType: 'Transpose', input: [t[1]], output: [t[2]], name: fresh('phases_view_nchw_node'), attribute: toNchw },
    { opType: 'MaxPool', input: [t[2]], output: [t[3]], name: fresh('phases_max_node'),
      attribute: [{ name: 'kernel_shape', type: 7, ints: [1, 4] }, { name: 'strides', type: 7, ints: [1, 4] }] },
    { opType: 'Transpose', input: [t[3]], output: [t[4]], name: fresh('max_nhwc_view_node'), attribute: toNhwc },
    { opType: 'Reshape', input: [t[4], shape('max_nhwc_shape', [0, h, w, C])], output: [t[5]], name: fresh('max_nhwc_node') },
    { opType: 'Transpose', input: [t[5]], output: [out], name: fresh('max_node'), attribute: toNchw },
  ];
}

interface Match { conv: Node; act?: Node; pool: Node }

/** conv -> [act ->] pool or conv -> pool [-> act], each tensor between them read by that one node only. */
function matchAfter(conv: Node, ix: ReturnType<typeof indexGraph>): Match | undefined {
  const only = (t: string) => {
    const users = ix.consumers.get(t) ?? [];
    return users.length === 1 && !ix.outputs.has(t) ? users[0] : undefined;
  };
  const next = only(conv.output![0]);
  if (isMonotone(next)) {
    const pool = only(next.output![0]);
    return isPool2(pool) && pool!.input![0] === next.output![0] ? { conv, act: next, pool: pool! } : undefined;
  }
  if (!isPool2(next) || next!.input![0] !== conv.output![0]) return undefined;
  const act = only(next!.output![0]);
  return isMonotone(act) && act.input![0] === next!.output![0] ? { conv, act, pool: next! } : { conv, pool: next! };
}

/** The static [H, W] of a graph input, if both are known. */
function inputHW(g: Graph, name: string): [number, number] | undefined {
  const dims = g.input?.find((i) => i.name === name)?.type?.tensorType?.shape?.dim ?? [];
  if (dims.length !== 4) return undefined;
  const hw = dims.slice(2).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : NaN));
  return hw.every((v) => v > 0) ? [hw[0], hw[1]] : undefined;
}

/**
 * Rewrites each eligible image layer (a Conv reading a graph input of even static height and width) in
 * place; returns the rewritten convolutions' names (each keeps its name).
 */
export function spaceToDepthImageLayers(g: Graph): string[] {
  const ix = indexGraph(g);
  const used = new Set<string>([...(g.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']), ...ix.inits.keys()]);
  const fresh = namer(used);
  const rewritten: string[] = [];
  const replace = new Map<Node, Node[]>();
  const drop = new Set<Node>();
  const gone = new Set<string>();
  for (const input of g.input ?? []) {
    const hw = inputHW(g, input.name!);
    if (!hw || hw[0] % 2 || hw[1] % 2) continue;
    for (const conv of ix.consumers.get(input.name!) ?? []) {
      if (!eligibleConv(conv, ix) || conv.input![0] !== input.name) continue;
      const m = matchAfter(conv, ix);
      if (!m) continue;
      const wInit = ix.inits.get(conv.input![1])!;
      const [C, Cin] = dimsOf(wInit);
      const base = conv.output![0];
      const pads = fresh(`${base}_s2d_pads`), padded = fresh(`${base}_padded`), s2d = fresh(`${base}_s2d`);
      const wName = fresh(`${conv.input![1]}_phases`);
      const inits = g.initializer ?? (g.initializer = []);
      inits.push(tensorProto(pads, BigInt64Array.from([0, 0, 1, 1, 0, 0, 1, 1].map(BigInt)), [8]),
        tensorProto(wName, phaseKernel(floatsOf(wInit), C, Cin), [4 * C, 4 * Cin, 2, 2]));
      const convIn = [s2d, wName];
      if (conv.input![2]) {
        const b = floatsOf(ix.inits.get(conv.input![2])!);
        const bName = fresh(`${conv.input![2]}_phases`);
        inits.push(tensorProto(bName, Float32Array.from({ length: 4 * C }, (_, i) => b[i % C]), [4 * C]));
        convIn.push(bName);
      }
      const phases = fresh(`${base}_phases`);
      // the max of the phases takes the pool's place: its output is the pool's input tensor when an
      // activation follows, else the pool's output
      const maxOut = m.act ? fresh(`${base}_max`) : m.pool.output![0];
      const nodes: Node[] = [
        { opType: 'Pad', input: [input.name!, pads], output: [padded], name: fresh(`${base}_pad_node`) },
        { opType: 'SpaceToDepth', input: [padded], output: [s2d], name: fresh(`${base}_s2d_node`), attribute: [{ name: 'blocksize', type: 2, i: 2 }] },
        { opType: 'Conv', input: convIn, output: [phases], name: conv.name, attribute: [{ name: 'kernel_shape', type: 7, ints: [2, 2] }] },
        ...phaseMax(phases, maxOut, [hw[0] / 2, hw[1] / 2], C, (h) => fresh(`${base}_${h}`), inits),
      ];
      if (m.act) nodes.push({ ...m.act, input: [maxOut, ...m.act.input!.slice(1)], output: [m.pool.output![0]] });
      replace.set(conv, nodes);
      drop.add(m.pool);
      if (m.act) drop.add(m.act);
      for (const n of [conv, m.act, m.pool]) if (n && n.output![0] !== m.pool.output![0]) gone.add(n.output![0]);
      rewritten.push(conv.name!);
    }
  }
  if (!rewritten.length) return [];
  g.node = (g.node ?? []).flatMap((n) => replace.get(n) ?? (drop.has(n) ? [] : [n]));
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !gone.has(v.name!));
  dropUnusedInitializers(g);
  return rewritten;
}
