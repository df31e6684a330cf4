// WordTree from WordNet, as in the YOLO9000 paper (section 4, "Hierarchical classification"): every
// class is a synset; classes with a single hypernym path to the root add that path first; the rest are
// added one at a time, always the class and path that grow the tree by the fewest new nodes (ties:
// shorter path, then the path's ids, so the result is deterministic).
import { WordNet } from './wordnet.ts';
import type { WordTreeSpec } from '../../manifest.ts';

export interface TreeClass {
  /** synset: 'n01234567' or 'circle.n.01' */
  synset: string;
  /** display name for the class node (defaults to the synset's head word) */
  name?: string;
  /**
   * The class must be a leaf. When its synset gets children in the tree (ellipse is circle's hypernym),
   * the class becomes a new child "<wnid>.self" of that synset, meaning "this, and none of the finer
   * classes": otherwise a group of one child would always win the descent and the class could never be
   * predicted.
   */
  leaf?: boolean;
}

export interface BuiltTree extends Required<WordTreeSpec> {
  /** one name per node: class names for class nodes, the head lemma elsewhere (made unique) */
  names: string[];
  /** node index of each input class, in input order */
  classNodes: number[];
}

export function buildWordTree(classes: readonly TreeClass[], wn: WordNet = new WordNet()): BuiltTree {
  if (classes.length === 0) throw new Error('a WordTree needs at least one class');
  const wnids = classes.map((c) => wn.synset(c.synset).wnid);
  const dup = wnids.find((w, i) => wnids.indexOf(w) !== i);
  if (dup) throw new Error(`two classes map to the same synset ${dup}`);

  const parent = new Map<string, string | null>();
  const addPath = (p: string[]): void => {
    for (let i = 0; i < p.length; i++) if (!parent.has(p[i])) parent.set(p[i], i === 0 ? null : p[i - 1]);
  };
  const growth = (p: string[]): number => p.reduce((n, id) => n + (parent.has(id) ? 0 : 1), 0);

  const paths = wnids.map((w) => wn.hypernymPaths(w));
  const pending: number[] = [];
  wnids.forEach((_, i) => (paths[i].length === 1 ? addPath(paths[i][0]) : pending.push(i)));
  while (pending.length > 0) {
    let best: { k: number; path: string[]; g: number } | undefined;
    for (let k = 0; k < pending.length; k++) {
      for (const p of paths[pending[k]]) {
        const g = growth(p);
        if (!best || g < best.g || (g === best.g && (p.length < best.path.length ||
          (p.length === best.path.length && p.join() < best.path.join())))) best = { k, path: p, g };
      }
    }
    addPath(best!.path);
    pending.splice(best!.k, 1);
  }

  const hasChild = new Set([...parent.values()].filter((p): p is string => p !== null));
  const classIds = wnids.map((w, i) => {
    if (!classes[i].leaf || !hasChild.has(w)) return w;
    const self = `${w}.self`;
    parent.set(self, w);
    return self;
  });

  // Breadth-first order, siblings sorted by id: parents precede children and every sibling group is one
  // contiguous run, which is what darknet's tree format (and the region layer's group softmax) requires.
  const children = new Map<string | null, string[]>();
  for (const [id, p] of parent) {
    const list = children.get(p) ?? [];
    list.push(id);
    children.set(p, list);
  }
  for (const list of children.values()) list.sort();
  const order: string[] = [];
  const index = new Map<string, number>();
  const parents: number[] = [];
  const queue: Array<string | null> = [null];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      index.set(c, order.length);
      order.push(c);
      parents.push(p === null ? -1 : index.get(p)!);
      queue.push(c);
    }
  }

  const classNodes = classIds.map((w) => index.get(w)!);
  const names = order.map((id) => wn.synset(id.replace(/\.self$/, '')).words[0].toLowerCase());
  classes.forEach((c, i) => {
    if (c.name) names[classNodes[i]] = c.name;
  });
  const classSet = new Set(classNodes);
  const seen = new Map<string, number>();
  names.forEach((n) => seen.set(n, (seen.get(n) ?? 0) + 1));
  for (let i = 0; i < names.length; i++) {
    if (seen.get(names[i])! > 1 && !classSet.has(i)) names[i] = `${names[i]}.${order[i]}`;
  }
  const clash = classNodes.map((n) => names[n]).find((n, i, a) => a.indexOf(n) !== i);
  if (clash) throw new Error(`two classes are both named "${clash}"`);
  return { parents, labels: order, names, classNodes };
}
