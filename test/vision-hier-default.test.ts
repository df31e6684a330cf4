// YOLO9000 box scoring. A model folder's own hierarchy threshold: model.json "hier" is the default the
// decoder uses; a request's hier still wins; model.json rejects values the decoder would refuse. And
// per-class scoring (darknet's valid with a class map): objectness x path probability per listed node.
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest.ts';
import { postprocess, type PostprocessParams } from '../src/vision/postprocess.ts';

// 0 root -> {1 left, 2 right}; left -> {3 l1, 4 l2}; right -> {5 r1}
const parents = [-1, 0, 0, 1, 1, 2];
const names = ['root', 'left', 'right', 'l1', 'l2', 'r1'];
const logit = (p: number) => Math.log(p / (1 - p));

/** one anchor, one cell: a sure object whose left/right split is .9/.1 and l1/l2 split .6/.4 */
function output(): Float32Array {
  // [anchor][entry][h][w] with entries x y w h obj + 6 classes
  const o = new Float32Array(11);
  o[4] = 6;
  o[5 + 1] = logit(0.9);
  o[5 + 3] = logit(0.6);
  return o;
}

const modelOf = (hier?: number) => ({ input: { width: 32, height: 32 }, preprocess: 'letterbox' as const, names, anchors: [1, 1], num: 1, coords: 4, softmax: true, tree: { parents }, hier });

function decode(hier: number | undefined, params: PostprocessParams = {}) {
  const [dets] = postprocess('yolo9000', modelOf(hier), output(), [1, 11, 1, 1], [{ width: 32, height: 32 }], { thresh: 0.5, ...params });
  expect(dets).toHaveLength(1);
  return dets[0].class;
}

describe('model.json hier', () => {
  it('sets the descent threshold unless the request gives one', () => {
    // darknet's descent: .9 * (.6 * .9) = .486 at l1, below .5: the box stops at its parent
    expect(decode(undefined)).toBe('left');
    expect(decode(0.3)).toBe('l1');
    expect(decode(0.3, { hier: 0.5 })).toBe('left');
    expect(decode(undefined, { hier: 0.4 })).toBe('l1');
  });

  it('classes scoring: every listed node (every leaf by default) at objectness x path probability', () => {
    const obj = 1 / (1 + Math.exp(-6));
    const run = (p: PostprocessParams) => postprocess('yolo9000', modelOf(0.3), output(), [1, 11, 1, 1], [{ width: 32, height: 32 }], { thresh: 0.05, ...p })[0];
    const leaves = run({ treeScores: 'classes' });
    expect(leaves.map((d) => d.class)).toEqual(['l1', 'l2', 'r1']);
    expect(leaves.map((d) => d.score)).toEqual([0.9 * 0.6, 0.9 * 0.4, 0.1].map((p) => expect.closeTo(obj * p, 5)));
    expect(leaves[1].path).toEqual(['root', 'left', 'l2']);
    // an inner node is scored too when listed; thresh applies to the product
    const listed = run({ treeScores: 'classes', classes: [1, 5], thresh: 0.2 });
    expect(listed.map((d) => [d.class, d.score])).toEqual([['left', expect.closeTo(obj * 0.9, 5)]]);
    // the same box under top scoring: one node, objectness alone
    expect(run({}).map((d) => [d.class, d.score])).toEqual([['l1', expect.closeTo(obj, 5)]]);
  });

  it('is validated with the manifest', () => {
    const base = {
      name: 'm', kind: 'yolo9000', input: { width: 32, height: 32, channels: 3, layout: 'NCHW' }, preprocess: 'letterbox',
      names, source: 'pinhole-train', num: 1, anchors: [1, 1], coords: 4, softmax: true, tree: { parents },
    };
    expect(validateManifest({ ...base, hier: 0.1 })).toMatchObject({ hier: 0.1 });
    expect(() => validateManifest({ ...base, hier: 1.5 })).toThrow(/"hier" must be a number in \[0, 1\]/);
    expect(() => validateManifest({ ...base, hier: '0.1' })).toThrow(/"hier" must be a number in \[0, 1\]/);
    expect(() => validateManifest({ ...base, nms: -0.1 })).toThrow(/"nms" must be a number in \[0, 1\]/);
    const { tree: _t, ...v2 } = base;
    expect(() => validateManifest({ ...v2, kind: 'yolov2', names: ['a'], hier: 0.2 })).toThrow(/"hier" applies to yolo9000 models only/);
  });
});
