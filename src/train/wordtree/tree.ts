// The WordTree as the YOLO9000 loss needs it: src/vision's darknet-exact structure (sibling groups are
// runs of consecutive nodes with one parent) plus each node's group, for walking a label's path.
import { buildWordTree, type WordTree } from '../../vision/wordtree.ts';

export interface TreeIndex extends WordTree {
  /** sibling group of each node */
  group: Int32Array;
}

export function indexTree(parents: readonly number[], labels?: string[]): TreeIndex {
  const t = buildWordTree({ parents: [...parents], labels });
  const group = new Int32Array(t.n);
  for (let g = 0; g < t.groups; g++) group.fill(g, t.groupOffset[g], t.groupOffset[g] + t.groupSize[g]);
  return { ...t, group };
}

/** Node indices from the node up to its root (node first). */
export function pathToRoot(t: TreeIndex, node: number): number[] {
  const p: number[] = [];
  for (let c = node; c >= 0; c = t.parent[c]) p.push(c);
  return p;
}
