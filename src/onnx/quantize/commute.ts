// Activation -> MaxPool pairs turned into MaxPool -> activation before quantizing. A max commutes with a
// non-decreasing function (LeakyRelu with alpha >= 0, Relu), in float and in uint8 alike (ORT's
// QLinearLeakyRelu is a non-decreasing table), so the network computes the same values; the activation,
// which ORT runs as its own QLinearLeakyRelu kernel after every QLinearConv (it has no fused form), then
// reads the pooled tensor: a quarter of the elements after a 2x2 stride-2 pool.
import { floatAttr, indexGraph, type Graph, type Node } from './tensors.ts';

const MONOTONE: Record<string, (n: Node) => boolean> = {
  Relu: () => true,
  LeakyRelu: (n) => floatAttr(n, 'alpha', 0.01) >= 0,
};

/** A non-decreasing activation: a max (pool) commutes with it. */
export const isMonotone = (n: Node | undefined): n is Node => n !== undefined && MONOTONE[n.opType!]?.(n) === true;

/** Swaps every activation whose only consumer is a MaxPool (neither in `keep`); returns how many. */
export function poolBeforeActivation(g: Graph, keep: ReadonlySet<string>): number {
  const ix = indexGraph(g);
  const nodes = g.node ?? [];
  const at = new Map(nodes.map((n, i) => [n, i]));
  let swapped = 0;
  for (const act of [...nodes]) {
    if (!isMonotone(act) || keep.has(act.name!)) continue;
    const a = act.output![0];
    const users = ix.consumers.get(a) ?? [];
    const pool = users[0];
    if (users.length !== 1 || ix.outputs.has(a) || pool.opType !== 'MaxPool' || keep.has(pool.name!)) continue;
    if ((pool.output ?? []).filter(Boolean).length !== 1 || pool.input![0] !== a) continue;
    const x = act.input![0], p = pool.output![0];
    // tensor `a` now holds the pooled input, `p` keeps its meaning (and its consumers)
    pool.input = [x, ...pool.input!.slice(1)];
    pool.output = [a];
    act.input = [a, ...act.input!.slice(1)];
    act.output = [p];
    const i = at.get(act)!, j = at.get(pool)!;
    nodes[i] = pool;
    nodes[j] = act;
    at.set(pool, i);
    at.set(act, j);
    g.valueInfo = (g.valueInfo ?? []).filter((v) => v.name !== a);
    swapped++;
  }
  return swapped;
}
