// BatchNormalization folded into the Conv before it, so that the int8 weights are the weights the
// network really multiplies by (quantizing the unfolded kernel and scaling it afterwards would scale
// its rounding error per channel too; ORT would fold in fp32 only after our QDQ fixed the scales).
import { tensorProto } from '../graph.ts';
import { dimsOf, floatAttr, floatsOf, indexGraph, dropUnusedInitializers, type Graph, type Node } from './tensors.ts';

/** Folds every Conv -> BatchNormalization pair whose Conv output feeds only the BN; returns how many. */
export function foldBatchNorms(g: Graph): number {
  const ix = indexGraph(g);
  const drop = new Set<Node>();
  const extra = [];
  for (const bn of g.node ?? []) {
    if (bn.opType !== 'BatchNormalization') continue;
    const conv = ix.producer.get(bn.input![0]);
    if (!conv || conv.opType !== 'Conv' || ix.consumers.get(conv.output![0])?.length !== 1 || ix.outputs.has(conv.output![0])) continue;
    const params = bn.input!.slice(1, 5).map((n) => ix.inits.get(n));
    const wInit = ix.inits.get(conv.input![1]);
    if (params.some((t) => !t) || !wInit) continue;
    const [scale, bias, mean, variance] = params.map((t) => floatsOf(t!));
    const eps = floatAttr(bn, 'epsilon', 1e-5);
    const w = floatsOf(wInit);
    const dims = dimsOf(wInit);
    const cout = dims[0];
    const per = w.length / cout;
    const oldB = conv.input![2] ? floatsOf(ix.inits.get(conv.input![2])!) : new Float32Array(cout);
    const nw = new Float32Array(w.length);
    const nb = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      // double precision for the factor: the fold should add no error of its own
      const k = scale[c] / Math.sqrt(variance[c] + eps);
      for (let i = 0; i < per; i++) nw[c * per + i] = w[c * per + i] * k;
      nb[c] = (oldB[c] - mean[c]) * k + bias[c];
    }
    const wName = `${conv.input![1]}_bnfolded`;
    const bName = `${conv.input![1]}_bnfolded_bias`;
    extra.push(tensorProto(wName, nw, dims), tensorProto(bName, nb, [cout]));
    conv.input = [conv.input![0], wName, bName];
    conv.output = [bn.output![0]];
    drop.add(bn);
  }
  g.node = (g.node ?? []).filter((n) => !drop.has(n));
  g.initializer = [...(g.initializer ?? []), ...extra];
  dropUnusedInitializers(g);
  return drop.size;
}
