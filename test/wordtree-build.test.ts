import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WordNet, parseDataLine } from '../src/train/wordtree/wordnet.ts';
import { buildWordTree } from '../src/train/wordtree/build.ts';
import { indexTree, pathToRoot } from '../src/train/wordtree/tree.ts';
import { parseTreeText } from '../src/vision/wordtree.ts';

const wn = new WordNet();
const nameOf = (t: { names: string[] }, i: number) => t.names[i];

describe('WordNet reader', () => {
  it('reads synsets by id and by sense name, with their hypernyms', () => {
    const c = wn.synset('circle.n.01');
    expect(c.wnid).toBe('n13896141');
    expect(c.words[0]).toBe('circle');
    expect(c.hypernyms).toEqual(['n13900945']); // ellipse
    expect(wn.synset('n13900945').words).toContain('ellipse');
    expect(wn.synset('13896141')).toBe(c);
    const paths = wn.hypernymPaths('square.n.01').map((p) => p.map((id) => wn.synset(id).words[0]));
    expect(paths).toHaveLength(2);
    expect(paths.every((p) => p[0] === 'entity' && p[p.length - 1] === 'square')).toBe(true);
  });

  it('rejects unknown words, senses and malformed ids with a clear message', () => {
    expect(() => wn.synset('nosuchwordxyz.n.01')).toThrow(/no noun "nosuchwordxyz"/);
    expect(() => wn.synset('circle.n.99')).toThrow(/has \d+ senses, not 99/);
    expect(() => wn.synset('circle')).toThrow(/not a WordNet noun id/);
    expect(() => wn.synset('n00000001')).toThrow(/no WordNet noun synset at offset/);
  });

  it('parses a data.noun line', () => {
    const s = parseDataLine('13896488 25 n 01 circlet 0 001 @ 13896141 n 0000 | a small circle');
    expect(s).toMatchObject({ wnid: 'n13896488', words: ['circlet'], hypernyms: ['n13896141'], gloss: 'a small circle' });
  });
});

describe('WordTree from WordNet', () => {
  it('grows the tree from hypernym paths, parents first, siblings contiguous', () => {
    const t = buildWordTree([
      { synset: 'circle.n.01' }, { synset: 'triangle.n.01' }, { synset: 'hexagon.n.01' }, { synset: 'ellipse.n.01' },
    ], wn);
    const idx = indexTree(t.parents, t.labels);
    expect(t.names[0]).toBe('entity');
    const path = (name: string) => pathToRoot(idx, t.names.indexOf(name)).map((i) => nameOf(t, i)).reverse();
    expect(path('circle')).toEqual(['entity', 'abstraction', 'attribute', 'shape', 'figure', 'plane_figure', 'conic_section', 'ellipse', 'circle']);
    expect(path('hexagon').slice(-3)).toEqual(['plane_figure', 'polygon', 'hexagon']);
    // polygon's children (triangle, hexagon) form one sibling group
    const tri = t.names.indexOf('triangle');
    const hex = t.names.indexOf('hexagon');
    expect(idx.group[tri]).toBe(idx.group[hex]);
    expect(idx.groupSize[idx.group[tri]]).toBe(2);
    // ellipse is both a class and circle's parent
    expect(t.parents[t.names.indexOf('circle')]).toBe(t.names.indexOf('ellipse'));
    expect(t.classNodes.map((n) => t.names[n])).toEqual(['circle', 'triangle', 'hexagon', 'ellipse']);
  });

  it('prefers, for a class with several paths, the path that adds the fewest nodes', () => {
    // square: via rectangle (already in the tree: adds 1 node) or via isogon/regular_polygon (adds 3)
    const t = buildWordTree([{ synset: 'rectangle.n.01' }, { synset: 'square.n.01' }], wn);
    expect(t.names[t.parents[t.names.indexOf('square')]]).toBe('rectangle');
    expect(t.names).not.toContain('regular_polygon');
    // without rectangle both paths add nodes; the one adding fewer wins (rectangle route adds
    // quadrilateral, parallelogram, rectangle, square = 4 vs isogon, regular_polygon, square = 3)
    const t2 = buildWordTree([{ synset: 'square.n.01' }, { synset: 'triangle.n.01' }], wn);
    expect(t2.names[t2.parents[t2.names.indexOf('square')]]).toBe('regular_polygon');
  });

  it('uses the given class names and keeps every node name unique', () => {
    const t = buildWordTree([{ synset: 'circle.n.01', name: 'round thing' }, { synset: 'ring.n.02', name: 'ring' }], wn);
    expect(t.names).toContain('round thing');
    expect(new Set(t.names).size).toBe(t.names.length);
    expect(() => buildWordTree([{ synset: 'circle.n.01' }, { synset: 'n13896141' }], wn)).toThrow(/same synset/);
  });

  it('indexes darknet\'s 9k.tree with the same group rules', () => {
    const spec = parseTreeText(readFileSync('/usr/share/darknet/data/9k.tree', 'utf8'));
    const idx = indexTree(spec.parents, spec.labels);
    expect(idx.n).toBe(9418);
    expect(idx.groups).toBe(1846);
    for (let i = 0; i < idx.n; i++) {
      const g = idx.group[i];
      expect(i >= idx.groupOffset[g] && i < idx.groupOffset[g] + idx.groupSize[g]).toBe(true);
    }
  });
});

describe('WordTree leaves for fine classes', () => {
  it('gives a class whose synset has children a "self" leaf, so it can be predicted', () => {
    const t = buildWordTree([{ synset: 'ellipse.n.01', leaf: true }, { synset: 'circle.n.01', leaf: true }], wn);
    const idx = indexTree(t.parents, t.labels);
    const e = t.classNodes[0];
    expect(t.names[e]).toBe('ellipse');
    expect(t.labels[e]).toBe('n13900945.self');
    expect(idx.child[e]).toBe(-1); // a leaf
    // its parent is the ellipse synset, whose children {circle, ellipse-self} form one group
    const p = t.parents[e];
    expect(t.labels[p]).toBe('n13900945');
    expect(t.parents[t.classNodes[1]]).toBe(p);
    expect(idx.groupSize[idx.group[e]]).toBe(2);
    expect(new Set(t.names).size).toBe(t.names.length);
  });
});
