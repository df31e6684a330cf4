// One 3x3 stride-1 'same' Conv rewritten as Winograd F(m x m, 3 x 3) in standard ONNX ops, so that ORT's CPU
// provider runs the transforms and the product with its own kernels (MLAS):
//   x [N,C,H,W] -> Reshape [N*C,1,H,W] -> Conv with the a*a fixed a x a kernels B^T.B, stride m
//     (input transform; its pads make the tiles cover the image) -> [N*C, a*a, th, tw]
//   -> Reshape/Transpose to V [N, a*a*C, th, tw] (channel i*C + c)
//   -> grouped 1x1 Conv with U = G g G^T as [a*a*K, C] weights (a*a groups), and the bias: the only O(K*C)
//      work, a*a products per tile instead of 9 per output pixel
//   -> MatMul(A [m*m, a*a], .) (output transform) -> [N, m*m*K, th, tw] -> DepthToSpace(m) -> crop to H x W.
import { attr, onnx, tensorProto } from '../graph.ts';
import type { Graph, Node, Tensor } from '../quantize/tensors.ts';
import { inputTransformKernel, matrices, outputTransformMatrix, transformWeights, type TileSize } from './transforms.ts';

export interface ConvSite {
  node: Node;
  /** the input's channels, height and width (the batch may vary) */
  C: number;
  H: number;
  W: number;
  K: number;
  weights: Float32Array;
  bias?: Float32Array;
}

const ints = (name: string, v: number[]): Tensor => tensorProto(name, BigInt64Array.from(v.map(BigInt)), [v.length]);

function attrProto(name: string, a: ReturnType<typeof attr.i> | ReturnType<typeof attr.ints> | ReturnType<typeof attr.s>) {
  // the node attribute shapes the graph builder writes, for nodes made outside a GraphBuilder
  const T = onnx.AttributeProto.AttributeType;
  if (a.kind === 'i') return { name, type: T.INT, i: a.v };
  if (a.kind === 'ints') return { name, type: T.INTS, ints: a.v as number[] };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.v as string) };
}

/**
 * The nodes and initializers replacing `s.node`; its output tensor keeps its name. The product is a grouped
 * 1x1 Conv (group = a*a): ORT runs it with its blocked-layout (NCHWc) convolution kernel, ~50 GMAC/s here
 * against ~35 for the same product as a batched MatMul (K x C times C x T, T = 16-49 tiles), either way round.
 */
export function winogradNodes(s: ConvSite, m: TileSize): { nodes: Node[]; inits: Tensor[] } {
  const w = matrices(m);
  const { a } = w;
  const { C, H, W, K } = s;
  const th = Math.ceil(H / m);
  const tw = Math.ceil(W / m);
  const p = `${s.node.name ?? s.node.output![0]}_wino${m}`;
  const x = s.node.input![0];
  const y = s.node.output![0];
  const inits: Tensor[] = [
    ints(`${p}_s_in`, [-1, 1, H, W]),
    tensorProto(`${p}_bt`, inputTransformKernel(w), [a * a, 1, a, a]),
    ints(`${p}_s_v`, [-1, C, a * a, th * tw]),
    ints(`${p}_s_v2`, [-1, a * a * C, th, tw]),
    tensorProto(`${p}_u`, transformWeights(w, s.weights, K, C), [a * a * K, C, 1, 1]),
    ints(`${p}_s_m`, [-1, a * a, K * th * tw]),
    tensorProto(`${p}_at`, outputTransformMatrix(w), [m * m, a * a]),
    ints(`${p}_s_o`, [-1, m * m * K, th, tw]),
  ];
  const node = (op: string, input: string[], output: string, attrs: Record<string, Parameters<typeof attrProto>[1]> = {}): Node => ({
    opType: op, input, output: [output], name: `${output}_node`,
    attribute: Object.entries(attrs).map(([k, v]) => attrProto(k, v)),
  });
  const cropped = th * m !== H || tw * m !== W;
  const beforeCrop = cropped ? `${p}_full` : y;
  const mmIn = [`${p}_v`, `${p}_u`];
  if (s.bias) {
    // (1, 1) of the tile: column 1 of A^T is all ones, so a value added there reaches every output pixel once
    const b = new Float32Array(a * a * K);
    b.set(s.bias, (a + 1) * K);
    inits.push(tensorProto(`${p}_bias`, b, [a * a * K]));
    mmIn.push(`${p}_bias`);
  }
  const nodes: Node[] = [
    node('Reshape', [x, `${p}_s_in`], `${p}_planes`),
    node('Conv', [`${p}_planes`, `${p}_bt`], `${p}_v0`, {
      kernel_shape: attr.ints([a, a]), strides: attr.ints([m, m]),
      pads: attr.ints([1, 1, th * m + 1 - H, tw * m + 1 - W]),
    }),
    node('Reshape', [`${p}_v0`, `${p}_s_v`], `${p}_v1`),
    node('Transpose', [`${p}_v1`], `${p}_v2`, { perm: attr.ints([0, 2, 1, 3]) }),
    node('Reshape', [`${p}_v2`, `${p}_s_v2`], `${p}_v`),
    node('Conv', mmIn, `${p}_m`, { kernel_shape: attr.ints([1, 1]), group: attr.i(a * a) }),
    node('Reshape', [`${p}_m`, `${p}_s_m`], `${p}_m2`),
    node('MatMul', [`${p}_at`, `${p}_m2`], `${p}_o0`),
    node('Reshape', [`${p}_o0`, `${p}_s_o`], `${p}_o1`),
    node('DepthToSpace', [`${p}_o1`], beforeCrop, { blocksize: attr.i(m), mode: attr.s('DCR') }),
  ];
  if (cropped) {
    inits.push(ints(`${p}_crop_lo`, [0, 0]), ints(`${p}_crop_hi`, [H, W]), ints(`${p}_crop_axes`, [2, 3]));
    nodes.push(node('Slice', [beforeCrop, `${p}_crop_lo`, `${p}_crop_hi`, `${p}_crop_axes`], y));
  }
  return { nodes, inits };
}

/** Replaces each site's Conv in `g` by its Winograd nodes, in place (graph order kept). */
export function rewriteSites(g: Graph, sites: readonly ConvSite[], m: (s: ConvSite) => TileSize): void {
  const bySite = new Map(sites.map((s) => [s.node, s]));
  const nodes: Node[] = [];
  const inits: Tensor[] = [];
  for (const n of g.node ?? []) {
    const s = bySite.get(n);
    if (!s) {
      nodes.push(n);
      continue;
    }
    const r = winogradNodes(s, m(s));
    nodes.push(...r.nodes);
    inits.push(...r.inits);
  }
  g.node = nodes;
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  g.initializer = [...(g.initializer ?? []), ...inits].filter((t) => used.has(t.name!));
}
