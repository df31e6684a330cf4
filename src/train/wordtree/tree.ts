// Sibling-group index of a WordTree, the structure the hierarchical softmax and its loss work on.
// Same rules as darknet's tree reader: a group is a maximal run of consecutive nodes with the same parent.

export interface TreeIndex {
  n: number;
  parents: Int32Array;
  /** group of each node */
  group: Int32Array;
  groupOffset: Int32Array;
  groupSize: Int32Array;
  /** group holding the node's children, -1 for a leaf */
  childGroup: Int32Array;
}

export function indexTree(parents: readonly number[]): TreeIndex {
  const n = parents.length;
  const group = new Int32Array(n);
  const offs: number[] = [];
  const sizes: number[] = [];
  const childGroup = new Int32Array(n).fill(-1);
  const seenParent = new Set<number>();
  for (let i = 0; i < n; i++) {
    const p = parents[i];
    if (!Number.isInteger(p) || p < -1 || p >= i) throw new Error(`tree node ${i}: parent ${p} must be -1 or an earlier node`);
    if (i === 0 || p !== parents[i - 1]) {
      if (seenParent.has(p)) throw new Error(`tree node ${i}: the children of node ${p} are not one contiguous run`);
      seenParent.add(p);
      offs.push(i);
      sizes.push(0);
      if (p >= 0) childGroup[p] = offs.length - 1;
    }
    group[i] = offs.length - 1;
    sizes[sizes.length - 1]++;
  }
  return { n, parents: Int32Array.from(parents), group, groupOffset: Int32Array.from(offs), groupSize: Int32Array.from(sizes), childGroup };
}

/** Node indices from the node up to its root (node first). */
export function pathToRoot(t: TreeIndex, node: number): number[] {
  const p: number[] = [];
  for (let c = node; c >= 0; c = t.parents[c]) p.push(c);
  return p;
}

/** Per-group softmax of raw logits (one vector of t.n values), in place into `out`. */
export function groupSoftmax(t: TreeIndex, logits: ArrayLike<number>, out: Float32Array | Float64Array, stride = 1, base = 0): void {
  for (let g = 0; g < t.groupOffset.length; g++) {
    const o = t.groupOffset[g];
    const s = t.groupSize[g];
    let m = -Infinity;
    for (let i = 0; i < s; i++) m = Math.max(m, logits[base + (o + i) * stride]);
    let sum = 0;
    for (let i = 0; i < s; i++) sum += (out[o + i] = Math.exp(logits[base + (o + i) * stride] - m));
    for (let i = 0; i < s; i++) out[o + i] /= sum;
  }
}

/** P(node) = product of conditional probabilities along its path (darknet's get_hierarchy_probability). */
export function pathProbability(t: TreeIndex, cond: ArrayLike<number>, node: number): number {
  let p = 1;
  for (let c = node; c >= 0; c = t.parents[c]) p *= cond[c];
  return p;
}
