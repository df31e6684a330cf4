// The Winograd pass: eligible 3x3 convolutions of a float32 ONNX model rewritten as F(m x m, 3 x 3)
// (rewrite.ts), applied by the runtime when it creates CPU sessions. The model folder is never changed.
import { onnx } from '../graph.ts';
import { dimsOf, floatsOf, intAttr, intsAttr, strAttr, type Graph, type Node, type Tensor } from '../quantize/tensors.ts';
import { rewriteSites, type ConvSite } from './rewrite.ts';
import { inferShapes, type Shape } from './shapes.ts';
import type { TileSize } from './transforms.ts';

export { inferShapes } from './shapes.ts';
export type { TileSize } from './transforms.ts';

/**
 * Part of the runtime's ORT cache key: a graph rewritten by another version of the pass is another graph.
 * Bump it with every change to what the pass writes or which tile it picks (2: F(3x3) and tileFor).
 */
export const WINOGRAD_VERSION = 2;

export interface WinogradRule {
  /** smallest input channel count rewritten */
  minChannels: number;
  /** smallest input tensor (channels x height x width) rewritten */
  minInputValues: number;
  /** the largest tile used */
  tile: TileSize;
  /**
   * F(4x4) holds 36 / 9 = 4x a layer's weights, F(3x3) 25 / 9, F(2x2) 16 / 9: a layer with more than this
   * many output x input channels gets no F(4x4) (unbounded when absent)
   */
  maxLargeTileWeights?: number;
}

/**
 * The tile a site gets under the rule: of the tiles up to `rule.tile` (F(4x4) only within the weight bound),
 * the one with the fewest multiplications for its image, a*a points times ceil(H/m) x ceil(W/m) tiles (at
 * 13x13: F2 16 x 49 = 784, F3 25 x 25 = 625, F4 36 x 16 = 576 per channel pair, against 9 x 169 = 1521
 * direct); a tie goes to the smaller tile (fewer weights, less rounding).
 */
export function tileFor(rule: WinogradRule, s: Pick<ConvSite, 'K' | 'C' | 'H' | 'W'>): TileSize {
  let best: TileSize = 2;
  let bestCost = Infinity;
  for (const m of [2, 3, 4] as const) {
    if (m > rule.tile || (m === 4 && s.K * s.C > (rule.maxLargeTileWeights ?? Infinity))) continue;
    const cost = (m + 2) ** 2 * Math.ceil(s.H / m) * Math.ceil(s.W / m);
    if (cost < bestCost) [best, bestCost] = [m, cost];
  }
  return best;
}

/**
 * Where the rewrite paid on the CPU it was measured on (bench/winograd.ts, ORT 1.30, 2-core AMD EPYC with
 * AVX-512, batch 1, ms of one layer + LeakyRelu, plain Conv against F(4x4,3x3); 1 thread / 2 threads):
 *   13x13 1024->1024 30 -> 19 ms CPU;  13x13 512->1024 16.4 -> 10.0;  26x26 128->256 x1.77 / x1.74;
 *   52x52 64->128 x1.53 / x1.56;  38x38 256->512 x2.05 / x1.97;  104x104 64->128 x1.20 / x1.13;
 *   but 104x104 32->64 x1.00 / x0.98 and 208x208 16->32 x0.49 / x0.53 (the transforms cost per channel,
 *   the saving per channel pair: few channels do not pay), and 13x13 256->512 x1.40 on one thread but x0.70
 *   on two (a small input split over threads: every one of the rewrite's ten ops pays its own fork and join).
 * Hence at least 64 input channels and an input of at least 64 Ki values. F(4x4) rather than F(2x2): it
 * was faster on every shape (F2 13x13 1024->1024 22 ms CPU, 104x104 64->128 x0.89) at ~1e-5 relative error
 * against ~1e-6, both far inside the darknet conformance tests' 1e-4. But its weights are 4x the layer's:
 * with F(4x4) everywhere on tiny-voc (model.onnx 63 -> 238 MB) the server's peak RSS went from ~450 to
 * 610 MB, next to the Flask + OpenCV peer's 637 MB that issue 20 sets as the ceiling. So layers past 256 x 512
 * channels get no F(4x4); at 13x13 F(3x3) does as well (the whole tiny-voc, ORT CPU ms per image on one
 * thread: 42.7 with F(3x3) on its 512->1024 and 1024->1024 layers and F(4x4) below, 42.4 with F(4x4)
 * everywhere, 45.5 with F(2x2) on those two, 65.2 plain) with 25 / 9 of the weights (model.onnx 169 MB).
 */
export const DEFAULT_RULE: WinogradRule = { minChannels: 64, minInputValues: 65536, tile: 4, maxLargeTileWeights: 256 * 512 };

export interface Candidate {
  node: string;
  /** the rewrite's inputs when it can be rewritten */
  site?: ConvSite;
  /** why not, when it cannot or does not pay */
  reason?: string;
}

const all = (v: number[] | undefined, x: number, len: number) => v === undefined || (v.length === len && v.every((d) => d === x));

/** What rules a Conv out whatever its size: only 3x3, stride 1, 'same' padding of 1, one group, float32 constant weights. */
function structural(n: Node, inits: Map<string, Tensor>, fed: Set<string>, x: Shape | undefined): string | undefined {
  const w = inits.get(n.input![1]);
  if (!w || w.dataType !== onnx.TensorProto.DataType.FLOAT) return 'weights are not a float32 initializer';
  if (n.input!.slice(1).some((t) => !inits.has(t) || fed.has(t))) return 'weights or bias can be fed at run time';
  const wd = dimsOf(w);
  if (wd.length !== 4 || wd[2] !== 3 || wd[3] !== 3) return 'not a 3x3 kernel';
  if (intAttr(n, 'group', 1) !== 1) return 'grouped';
  if (!all(intsAttr(n, 'strides'), 1, 2)) return 'stride is not 1';
  if (!all(intsAttr(n, 'dilations'), 1, 2)) return 'dilated';
  const autoPad = strAttr(n, 'auto_pad') ?? 'NOTSET';
  const samePad = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || (autoPad === 'NOTSET' && all(intsAttr(n, 'pads') ?? [0, 0, 0, 0], 1, 4));
  if (!samePad) return 'padding is not 1 on every side';
  if (!x || x.length !== 4 || x.slice(1).some((d) => d === null)) return 'input shape unknown';
  if (x[1] !== wd[1]) return 'input channels do not match the weights';
  return undefined;
}

/** Every Conv of the graph with whether (and why not) the rule rewrites it. */
export function candidates(g: Graph, rule: WinogradRule = DEFAULT_RULE): Candidate[] {
  const shapes = inferShapes(g);
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  // an initializer that is also a graph input (IR < 4 models list them so) is only a default: the caller may feed it
  const fed = new Set((g.input ?? []).map((i) => i.name!).filter((name) => inits.has(name)));
  const out: Candidate[] = [];
  for (const n of g.node ?? []) {
    if (n.opType !== 'Conv') continue;
    const x = shapes.get(n.input![0]);
    const name = n.name || n.output![0];
    const reason = structural(n, inits, fed, x);
    if (reason) {
      out.push({ node: name, reason });
      continue;
    }
    const [C, H, W] = x!.slice(1) as number[];
    if (C < rule.minChannels) out.push({ node: name, reason: `${C} input channels (< ${rule.minChannels})` });
    else if (C * H * W < rule.minInputValues) out.push({ node: name, reason: `${C}x${H}x${W} input (< ${rule.minInputValues} values)` });
    else {
      const w = inits.get(n.input![1])!;
      const b = n.input![2] ? inits.get(n.input![2]) : undefined;
      out.push({ node: name, site: { node: n, C, H, W, K: dimsOf(w)[0], weights: floatsOf(w), bias: b && floatsOf(b) } });
    }
  }
  return out;
}

export interface WinogradResult {
  /** the rewritten model, or the input bytes when no Conv was rewritten */
  bytes: Uint8Array;
  rewritten: string[];
}

/** Rewrites the model's eligible convolutions; the bytes come back as they were when none is. */
export function applyWinograd(bytes: Uint8Array, rule: WinogradRule = DEFAULT_RULE): WinogradResult {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph as Graph;
  const sites = candidates(g, rule).flatMap((c) => (c.site ? [c.site] : []));
  if (sites.length === 0) return { bytes, rewritten: [] };
  rewriteSites(g, sites, (s) => tileFor(rule, s));
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten: sites.map((s) => s.node.name || s.node.output![0]) };
}
