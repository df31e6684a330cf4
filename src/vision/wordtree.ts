// YOLO9000's WordTree: darknet's 9k.tree format, sibling groups, the tree softmax and
// hierarchy_top_prediction. The decode hot path (topPredictionLazy) touches only the sibling groups
// on the descent path; the full-vector functions below are kept as the reference it is tested
// against (and for callers that want every node's probability).

import type { WordTreeSpec } from '../manifest.ts';

const f = Math.fround;

export interface WordTree {
  n: number;
  parent: Int32Array;
  /** index of the sibling group holding a node's children, -1 for a leaf (darknet tree.child) */
  child: Int32Array;
  groupOffset: Int32Array;
  groupSize: Int32Array;
  groups: number;
  maxGroupSize: number;
  labels?: string[];
}

/**
 * darknet 9k.tree text: one `label parent_index` per line, -1 for a root. Blank lines are skipped
 * (darknet would turn one into a nameless root; no real tree file has one).
 */
export function parseTreeText(text: string): WordTreeSpec {
  const parents: number[] = [];
  const labels: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    const p = parts.length >= 2 ? Number(parts[1]) : NaN;
    if (parts.length !== 2 || !Number.isInteger(p)) {
      throw new Error(`tree line ${ln + 1}: expected "label parent_index", got "${line}"`);
    }
    labels.push(parts[0]);
    parents.push(p);
  }
  return { parents, labels };
}

/**
 * Builds darknet's tree structure (tree.c read_tree): sibling groups are the maximal runs of
 * consecutive nodes sharing a parent; group 0 must be the roots because the top prediction starts
 * there.
 */
export function buildWordTree(spec: WordTreeSpec): WordTree {
  const { parents, labels } = spec;
  const n = parents.length;
  if (n === 0) throw new Error('tree has no nodes');
  if (labels && labels.length !== n) throw new Error(`tree has ${n} parents but ${labels.length} labels`);
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = parents[i];
    if (!Number.isInteger(p) || p < -1 || p >= i) {
      throw new Error(`tree node ${i}: parent ${p} must be -1 or an earlier node`);
    }
    parent[i] = p;
  }
  if (parent[0] !== -1) throw new Error('tree: the first node must be a root (parent -1)');
  const offs: number[] = [0];
  for (let i = 1; i < n; i++) if (parent[i] !== parent[i - 1]) offs.push(i);
  const groups = offs.length;
  const groupOffset = Int32Array.from(offs);
  const groupSize = new Int32Array(groups);
  let maxGroupSize = 0;
  const child = new Int32Array(n).fill(-1);
  for (let g = 0; g < groups; g++) {
    groupSize[g] = (g + 1 < groups ? offs[g + 1] : n) - offs[g];
    maxGroupSize = Math.max(maxGroupSize, groupSize[g]);
    const p = parent[offs[g]];
    // darknet assigns child[parent] = the LAST run of that parent's children; same here.
    if (p >= 0) child[p] = g;
  }
  return { n, parent, child, groupOffset, groupSize, groups, maxGroupSize, labels: labels ? [...labels] : undefined };
}

/** Root-to-node names (names[] indexed by node). */
export function treePath(tree: WordTree, node: number, names: readonly string[]): string[] {
  const path: string[] = [];
  for (let j = node; j >= 0; j = tree.parent[j]) path.push(names[j] ?? String(j));
  return path.reverse();
}

/**
 * Softmax over one sibling group, the way darknet's GPU kernel and the oracle compute it: max in
 * float, e = float(exp(x - max)) with the subtraction in double, float running sum, float e/sum.
 * Reads src[base + node*stride]; writes e into scratch[0..size) and returns the sum.
 */
function groupExp(src: Float32Array, base: number, stride: number, off: number, size: number, scratch: Float32Array): number {
  let largest = -Infinity;
  for (let k = 0, i = base + off * stride; k < size; k++, i += stride) if (src[i] > largest) largest = src[i];
  let sum = 0;
  for (let k = 0, i = base + off * stride; k < size; k++, i += stride) {
    const e = f(Math.exp(src[i] - largest));
    scratch[k] = e;
    sum = f(sum + e);
  }
  return sum;
}

/**
 * Full tree softmax of one (anchor, cell): every sibling group softmaxed independently.
 * src[base + node*stride] -> dst[node]. A caller looping over boxes passes `scratch`
 * (tree.maxGroupSize floats) so nothing is allocated per box.
 */
export function treeSoftmax(
  src: Float32Array, base: number, stride: number, tree: WordTree, dst: Float32Array,
  scratch: Float32Array = new Float32Array(tree.maxGroupSize),
): void {
  for (let g = 0; g < tree.groups; g++) {
    const off = tree.groupOffset[g], size = tree.groupSize[g];
    const sum = groupExp(src, base, stride, off, size, scratch);
    for (let k = 0; k < size; k++) dst[off + k] = scratch[k] / sum;
  }
}

/** darknet hierarchy_predictions(only_leaves=0): each node times its parent, parents first. */
export function hierarchyPredictions(p: Float32Array, tree: WordTree): void {
  for (let j = 0; j < tree.n; j++) {
    const par = tree.parent[j];
    if (par >= 0) p[j] = p[j] * p[par];
  }
}

/**
 * darknet hierarchy_top_prediction over a full vector of path products. Keeps darknet's quirks:
 * p*max multiplies the running product by a value that already contains it (ancestors counted
 * twice), and max_i starts at 0 rather than the group offset.
 */
export function hierarchyTopPrediction(p: Float32Array, tree: WordTree, hier: number): number {
  const th = f(hier);
  let prob = 1;
  let group = 0;
  for (;;) {
    const off = tree.groupOffset[group], size = tree.groupSize[group];
    let max = 0;
    let maxI = 0;
    for (let k = 0; k < size; k++) {
      const v = p[off + k];
      if (v > max) { max = v; maxI = off + k; }
    }
    const pm = f(prob * max);
    if (pm > th) {
      prob = pm;
      group = tree.child[maxI];
      if (group < 0) return maxI;
    } else if (group === 0) {
      return maxI;
    } else {
      return tree.parent[off];
    }
  }
}

/**
 * Same answer as treeSoftmax + hierarchyPredictions + hierarchyTopPrediction, computing only the
 * groups on the descent path: a group's softmax depends on its own logits alone, and a node's path
 * product is its softmax value times the (already computed) value of the node we descended from,
 * the same float operations in the same order. ~10 small groups instead of 9418 exps.
 * `scratch` must hold tree.maxGroupSize floats.
 */
export function topPredictionLazy(
  src: Float32Array, base: number, stride: number, tree: WordTree, hier32: number, scratch: Float32Array,
): number {
  let prob = 1;
  let group = 0;
  let parentVal = 1;
  let hasParent = false;
  for (;;) {
    const off = tree.groupOffset[group], size = tree.groupSize[group];
    const sum = groupExp(src, base, stride, off, size, scratch);
    let max = 0;
    let maxI = 0;
    for (let k = 0; k < size; k++) {
      let v = f(scratch[k] / sum);
      if (hasParent) v = f(v * parentVal);
      if (v > max) { max = v; maxI = off + k; }
    }
    const pm = f(prob * max);
    if (pm > hier32) {
      prob = pm;
      group = tree.child[maxI];
      if (group < 0) return maxI;
      parentVal = max;
      hasParent = true;
    } else if (group === 0) {
      return maxI;
    } else {
      return tree.parent[off];
    }
  }
}
