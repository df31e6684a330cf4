// Hand-computed cases for src/vision: letterbox geometry, the three decoders, WordTree and NMS,
// plus equivalence proofs of the fast paths (objectness gate, lazy tree descent, sparse NMS)
// against straightforward dense ports of darknet's code written here in the test.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  boxFrame, buildWordTree, correctBoxes, decodeDetection, decodeRegion, decodeRegionTree, emptyCandidates,
  hierarchyPredictions, hierarchyTopPrediction, iouDarknet, letterboxGeometry, logistic, nms, nmsBatch,
  parseTreeText, postprocess, pushCandidate, resizeGeometry, topPredictionLazy, treePath, treeSoftmax,
  type BoxFrame, type Candidates, type WordTree,
} from '../src/vision/index.ts';
import { PinholeError } from '../src/errors.ts';
import { fillUniform, rng, uniform } from './helpers/random.ts';

const f = Math.fround;
const ident = (w = 1, h = 1): BoxFrame => boxFrame('resize', { width: w, height: h }, 1, 1);

function entries(c: Candidates) {
  return Array.from({ length: c.count }, (_, i) => ({
    cls: c.cls[i], prob: c.prob[i], det: c.det[i], box: Array.from(c.box.subarray(i * 4, i * 4 + 4)),
  }));
}

describe('letterbox geometry', () => {
  it('scales by integer division keeping aspect, centres with integer offsets, fills .5', () => {
    expect(letterboxGeometry(768, 576, 416, 416)).toEqual({ netW: 416, netH: 416, newW: 416, newH: 312, dx: 0, dy: 52, fill: 0.5 });
    // portrait: height fills, width = trunc(300*416/600) = 208, dx = 104
    expect(letterboxGeometry(300, 600, 416, 416)).toMatchObject({ newW: 208, newH: 416, dx: 104, dy: 0 });
    // trunc(33*416/100) = trunc(137.28) = 137; odd leftover 279 -> dy = 139
    expect(letterboxGeometry(100, 33, 416, 416)).toMatchObject({ newW: 416, newH: 137, dx: 0, dy: 139 });
    // same aspect: no padding
    expect(letterboxGeometry(832, 832, 416, 416)).toMatchObject({ newW: 416, newH: 416, dx: 0, dy: 0 });
    // non-square network
    expect(letterboxGeometry(100, 100, 64, 32)).toMatchObject({ newW: 32, newH: 32, dx: 16, dy: 0 });
    expect(resizeGeometry(768, 576, 448, 448)).toMatchObject({ newW: 448, newH: 448, dx: 0, dy: 0 });
    expect(() => letterboxGeometry(0, 10, 416, 416)).toThrow(/positive integers/);
  });

  it('maps network-relative boxes back to the original image (correct_region_boxes)', () => {
    // 768x576 in 416x416: the image occupies network rows 52..364 = y .125...875.
    const fr = boxFrame('letterbox', { width: 768, height: 576 }, 416, 416);
    expect(fr.offY).toBe(0.125);
    expect(fr.scaleY).toBe(0.75);
    const b = Float32Array.of(0.5, 0.5, 1, 0.75, 0.25, 0.125 + 0.75 / 4, 0.5, 0.375);
    correctBoxes(b, 0, 2, fr);
    expect(Array.from(b)).toEqual([0.5, 0.5, 1, f(0.75 * f(416 / 312)), 0.25, 0.25, 0.5, f(0.375 * f(416 / 312))]);
    expect(b[3]).toBeCloseTo(1, 6);
    expect(b[7]).toBeCloseTo(0.5, 6);
    // plain resize: identity
    const r = Float32Array.of(0.3, 0.7, 0.2, 0.1);
    correctBoxes(r, 0, 1, boxFrame('resize', { width: 768, height: 576 }, 448, 448));
    expect(Array.from(r)).toEqual(Array.from(Float32Array.of(0.3, 0.7, 0.2, 0.1)));
  });

  it('round-trips pixel boxes through the paste geometry (even padding)', () => {
    const im = { width: 640, height: 360 };
    const g = letterboxGeometry(im.width, im.height, 416, 416); // 416x234, dy 91
    expect(g).toMatchObject({ newW: 416, newH: 234, dy: 91 });
    const fr = boxFrame('letterbox', im, 416, 416);
    const [x1, y1, x2, y2] = [100, 50, 300, 200];
    const toNet = (x: number, y: number) => [(g.dx + (x * g.newW) / im.width) / 416, (g.dy + (y * g.newH) / im.height) / 416];
    const [nx1, ny1] = toNet(x1, y1), [nx2, ny2] = toNet(x2, y2);
    const b = Float32Array.of((nx1 + nx2) / 2, (ny1 + ny2) / 2, nx2 - nx1, ny2 - ny1);
    correctBoxes(b, 0, 1, fr);
    expect(b[0] * im.width).toBeCloseTo(200, 3);
    expect(b[1] * im.height).toBeCloseTo(125, 3);
    expect(b[2] * im.width).toBeCloseTo(200, 3);
    expect(b[3] * im.height).toBeCloseTo(150, 3);
  });

  it("keeps darknet's half-pixel quirk when the padding is odd", () => {
    const fr = boxFrame('letterbox', { width: 100, height: 33 }, 416, 416);
    // the paste offset is 139 px, but correct_region_boxes subtracts 279/2 = 139.5 px
    expect(fr.offY).toBe(279 / 2 / 416);
  });
});

describe('YOLOv1 detection decode', () => {
  // side 2, num 1, classes 2: probs [4][2], conf [4], boxes [4][4]
  function v1Output(): Float32Array {
    const o = new Float32Array(4 * 2 + 4 + 16);
    o.set([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2, 0.9], 0);
    o.set([0.1, 0.1, 0.1, 0.8], 8);
    o.set([0.5, 0.25, 0.6, 0.4], 12 + 3 * 4);
    // cell 0: conf -0.9 and class prob -0.5: no sigmoid, so p = .45 > thresh (darknet keeps it)
    o[0] = -0.5;
    o[8] = -0.9;
    o.set([0.2, 0.4, 0.3, 0.5], 12);
    return o;
  }
  const layer = { side: 2, num: 1, classes: 2, sqrt: true, softmax: false };

  it('decodes x=(tx+col)/S, w=tw^2, p=conf*prob > thresh, cell-major', () => {
    const [c] = decodeDetection(v1Output(), [1, 28], layer, [ident()], 0.25);
    expect(entries(c)).toEqual([
      { cls: 0, prob: f(f(-0.9) * f(-0.5)), det: 0, box: [f(0.1), f(0.2), f(0.09), f(0.25)] },
      { cls: 1, prob: f(f(0.8) * f(0.9)), det: 3, box: [0.75, 0.625, f(f(0.6) * f(0.6)), f(f(0.4) * f(0.4))] },
    ]);
    // higher thresh drops the .45 box
    expect(decodeDetection(v1Output(), [1, 28], layer, [ident()], 0.5)[0].count).toBe(1);
    // sqrt=false: w = tw
    const [c2] = decodeDetection(v1Output(), [1, 28], { ...layer, sqrt: false }, [ident()], 0.5);
    expect(Array.from(c2.box.subarray(0, c2.count * 4))).toEqual([0.75, 0.625, f(0.6), f(0.4)]);
  });

  it('applies softmax to the class probs only when softmax=1, and decodes a batch', () => {
    const a = v1Output();
    const b = v1Output();
    b.set([0, Math.log(3)], 6); // softmax -> [.25, .75]
    const both = new Float32Array(56);
    both.set(a, 0);
    both.set(b, 28);
    const [ca, cb] = decodeDetection(both, [2, 28], { ...layer, softmax: true }, [ident(), ident()], 0.25);
    // cell 3: softmax([.2,.9]) = [.332,.668] -> p = .266, .534; cell 0: conf -.9 times positive probs < 0
    expect(entries(ca).map((e) => [e.det, e.cls])).toEqual([[3, 0], [3, 1]]);
    expect(ca.prob[0]).toBeCloseTo(0.8 / (1 + Math.exp(0.9 - 0.2)), 6);
    expect(ca.prob[1]).toBeCloseTo(0.8 / (1 + Math.exp(0.2 - 0.9)), 6);
    expect(cb.count).toBe(1);
    expect(cb.prob[0]).toBeCloseTo(0.6, 6);
    expect(() => decodeDetection(both, [2, 27], layer, [ident(), ident()], 0.25)).toThrow(/hold 54 values/);
    expect(() => decodeDetection(both, [2, 28], layer, [ident()], 0.25)).toThrow(/2 images/);
  });

  it('postprocess gives original-image pixel corners', () => {
    const model = { input: { width: 448, height: 448 }, preprocess: 'resize' as const, names: ['cat', 'dog'], side: 2, num: 1, sqrt: true, softmax: false };
    const [d] = postprocess('yolov1', model, v1Output(), [1, 28], [{ width: 200, height: 100 }], { thresh: 0.5 });
    expect(d).toHaveLength(1);
    expect(d[0].class_id).toBe(1);
    expect(d[0].class).toBe('dog');
    expect(d[0].score).toBeCloseTo(0.72, 6);
    const bw = f(f(0.6) * f(0.6)) * 200, bh = f(f(0.4) * f(0.4)) * 100;
    expect(d[0].box.x1).toBeCloseTo(150 - bw / 2, 4);
    expect(d[0].box.x2).toBeCloseTo(150 + bw / 2, 4);
    expect(d[0].box.y1).toBeCloseTo(62.5 - bh / 2, 4);
    expect(d[0].box.y2).toBeCloseTo(62.5 + bh / 2, 4);
  });
});

describe('YOLOv2 region decode', () => {
  // num 1, classes 2, H 1, W 2: entries [tx,ty,tw,th,to,c0,c1][1][2]
  function regionOutput(): Float32Array {
    const o = new Float32Array(7 * 2);
    const set = (e: number, i: number, v: number) => (o[e * 2 + i] = v);
    set(2, 1, Math.log(0.5)); // cell 1: w = .5*2/2 = .5
    set(4, 0, 0); // cell 0 obj .5
    set(4, 1, Math.log(4)); // cell 1 obj .8
    set(6, 1, Math.log(3)); // cell 1 classes softmax [.25, .75]
    return o;
  }
  const layer = { num: 1, anchors: [2, 1], classes: 2, softmax: true };

  it('decodes logistic x,y,obj, exp w,h times anchors, softmax classes, p = obj*prob > thresh', () => {
    const [c] = decodeRegion(regionOutput(), [1, 7, 1, 2], layer, [ident()], 0.25);
    expect(c.count).toBe(1);
    expect(c.cls[0]).toBe(1);
    expect(c.det[0]).toBe(1);
    expect(c.prob[0]).toBeCloseTo(0.6, 6);
    expect(Array.from(c.box.subarray(0, c.count * 4))).toEqual([0.75, 0.5, 0.5, 1].map((v) => expect.closeTo(v, 6)));
    // thresh .15: cell 0 (obj .5, classes .5/.5 -> .25 each) and cell 1 both classes (.2 and .6)
    const [c2] = decodeRegion(regionOutput(), [1, 7, 1, 2], layer, [ident()], 0.15);
    expect(entries(c2).map((e) => [e.det, e.cls])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    // objectness gate: at thresh .5 cell 0 (obj exactly .5) is not a candidate
    const [c3] = decodeRegion(regionOutput(), [1, 7, 1, 2], layer, [ident()], 0.5);
    expect(entries(c3).map((e) => e.det)).toEqual([1]);
  });

  it('uses independent logistic classes when softmax=0', () => {
    const [c] = decodeRegion(regionOutput(), [1, 7, 1, 2], { ...layer, softmax: false }, [ident()], 0.45);
    // cell 1: sigmoid(0) = .5, sigmoid(ln 3) = .75 -> p = .4, .6 ; cell 0: .5*.5 = .25
    expect(entries(c).map((e) => [e.det, e.cls, +e.prob.toFixed(6)])).toEqual([[1, 1, 0.6]]);
    const [c2] = decodeRegion(regionOutput(), [1, 7, 1, 2], { ...layer, softmax: false }, [ident()], 0.3);
    expect(entries(c2).map((e) => [e.det, e.cls, +e.prob.toFixed(6)])).toEqual([[1, 0, 0.4], [1, 1, 0.6]]);
  });

  it('undoes the letterbox per image of a batch and orders candidates anchor-major', () => {
    const one = regionOutput();
    const two = new Float32Array(28);
    two.set(one, 0);
    two.set(one, 14);
    // net 64x32, image 100x100 -> the image fills x .25...75 of the input
    const frames = [boxFrame('letterbox', { width: 64, height: 32 }, 64, 32), boxFrame('letterbox', { width: 100, height: 100 }, 64, 32)];
    const [a, b] = decodeRegion(two, [2, 7, 1, 2], layer, frames, 0.25);
    expect(Array.from(a.box.subarray(0, a.count * 4))).toEqual([0.75, 0.5, 0.5, 1].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(b.box.subarray(0, b.count * 4))).toEqual([1, 0.5, 1, 1].map((v) => expect.closeTo(v, 6)));
    // two anchors, H=1, W=1: anchor 1 comes after anchor 0 whatever the cell loop
    const o = new Float32Array(14).fill(0);
    o[4] = 3; o[7 + 4] = 3; // both anchors confident
    const [c] = decodeRegion(o, [1, 14, 1, 1], { num: 2, anchors: [1, 1, 2, 2], classes: 2, softmax: true }, [ident()], 0.3);
    expect(entries(c).map((e) => e.det)).toEqual([0, 0, 1, 1]);
    expect(c.box[2 * 4 + 2]).toBeCloseTo(2, 6);
    expect(() => decodeRegion(o, [1, 13, 1, 1], layer, [ident()], 0.3)).toThrow(/channels/);
  });
});

// a -1, b -1 | a1 0, a2 0 | b1 1 | a1x 2, a1y 2
const TINY_TREE = 'a -1\nb -1\na1 0\na2 0\nb1 1\na1x 2\na1y 2\n';

describe('WordTree', () => {
  const tree = buildWordTree(parseTreeText(TINY_TREE));
  // softmax: roots [.75,.25], {a1,a2} [.8,.2], {b1} [1], {a1x,a1y} [.1,.9]
  const logits = Float32Array.of(Math.log(3), 0, Math.log(4), 0, 0, 0, Math.log(9));

  it('parses 9k.tree text into darknet sibling groups and child links', () => {
    expect(Array.from(tree.groupOffset)).toEqual([0, 2, 4, 5]);
    expect(Array.from(tree.groupSize)).toEqual([2, 2, 1, 2]);
    expect(Array.from(tree.child)).toEqual([1, 2, 3, -1, -1, -1, -1]);
    expect(tree.labels).toEqual(['a', 'b', 'a1', 'a2', 'b1', 'a1x', 'a1y']);
    expect(treePath(tree, 6, tree.labels!)).toEqual(['a', 'a1', 'a1y']);
    expect(() => parseTreeText('a -1\nb\n')).toThrow(/line 2/);
    expect(() => buildWordTree({ parents: [-1, 2, 0] })).toThrow(/node 1/);
    expect(() => buildWordTree({ parents: [0] })).toThrow(/node 0/);
  });

  it('reads the real 9k.tree: 9418 nodes, 1846 groups, 4 roots', () => {
    const t = buildWordTree(parseTreeText(readFileSync('/usr/share/darknet/data/9k.tree', 'utf8')));
    expect(t.n).toBe(9418);
    expect(t.groups).toBe(1846);
    expect(t.groupSize[0]).toBe(4);
  });

  it('tree softmax per group, path products parents first', () => {
    const p = new Float32Array(7);
    treeSoftmax(logits, 0, 1, tree, p);
    expect(Array.from(p)).toEqual([0.75, 0.25, 0.8, 0.2, 1, 0.1, 0.9].map((v) => expect.closeTo(v, 6)));
    hierarchyPredictions(p, tree);
    expect(Array.from(p)).toEqual([0.75, 0.25, 0.6, 0.15, 0.25, 0.06, 0.54].map((v) => expect.closeTo(v, 6)));
  });

  it("hierarchy_top_prediction with darknet's p*max quirk (ancestors counted twice)", () => {
    const p = new Float32Array(7);
    treeSoftmax(logits, 0, 1, tree, p);
    hierarchyPredictions(p, tree);
    // hier .5: root max a (.75 > .5) -> group {a1,a2}: p*max = .75*.6 = .45 <= .5 -> parent a.
    // (Without the quirk .6 > .5 would have descended to a1.)
    expect(hierarchyTopPrediction(p, tree, 0.5)).toBe(0);
    // hier .4: .45 > .4 -> {a1x,a1y}: .45*.54 = .243 <= .4 -> parent a1
    expect(hierarchyTopPrediction(p, tree, 0.4)).toBe(2);
    // hier .2: .243 > .2 -> a1y is a leaf
    expect(hierarchyTopPrediction(p, tree, 0.2)).toBe(6);
    // hier .8: nothing in the root group passes -> the best root
    expect(hierarchyTopPrediction(p, tree, 0.8)).toBe(0);
    const scratch = new Float32Array(tree.maxGroupSize);
    for (const [h, want] of [[0.5, 0], [0.4, 2], [0.2, 6], [0.8, 0]]) {
      expect(topPredictionLazy(logits, 0, 1, tree, f(h), scratch)).toBe(want);
    }
  });

  it('lazy descent equals full softmax + path products + top prediction on the real tree', () => {
    const t = buildWordTree(parseTreeText(readFileSync('/usr/share/darknet/data/9k.tree', 'utf8')));
    const r = rng(7);
    const stride = 3;
    const src = new Float32Array(t.n * stride);
    const full = new Float32Array(t.n);
    const scratch = new Float32Array(t.maxGroupSize);
    let leaves = 0, inner = 0;
    for (let trial = 0; trial < 60; trial++) {
      // sharp logits (scale up to 12) so deep descents happen as well as early stops
      const scale = 1 + 11 * r();
      fillUniform(src, r, scale);
      const base = trial % stride;
      treeSoftmax(src, base, stride, t, full);
      hierarchyPredictions(full, t);
      for (const h of [0, 0.1, 0.3, 0.5, 0.7, 0.9]) {
        const want = hierarchyTopPrediction(full, t, h);
        expect(topPredictionLazy(src, base, stride, t, f(h), scratch)).toBe(want);
        if (t.child[want] < 0) leaves++; else inner++;
      }
    }
    // the comparison exercised both outcomes
    expect(leaves).toBeGreaterThan(10);
    expect(inner).toBeGreaterThan(10);
  });
});

// ---- dense reference ports of darknet (test-only) to prove the fast paths equivalent ----

interface DenseDet { x: number; y: number; w: number; h: number; objectness: number; prob: Float32Array; index: number }

/** do_nms_sort on dense detections, straight from darknet's loops (stable sort for ties). */
function denseNmsSort(dets: DenseDet[], classes: number, thresh: number): DenseDet[] {
  const D = dets.filter((d) => d.objectness !== 0);
  for (let k = 0; k < classes; k++) {
    D.sort((a, b) => b.prob[k] - a.prob[k] || a.index - b.index);
    for (let i = 0; i < D.length; i++) {
      if (D[i].prob[k] === 0) continue;
      for (let j = i + 1; j < D.length; j++) {
        if (iouDarknet(D[i].x, D[i].y, D[i].w, D[i].h, D[j].x, D[j].y, D[j].w, D[j].h) > f(thresh)) D[j].prob[k] = 0;
      }
    }
  }
  return D;
}

function denseFinal(D: DenseDet[], classes: number, thresh: number) {
  const out: string[] = [];
  for (const d of D) for (let k = 0; k < classes; k++) {
    if (d.prob[k] > thresh) out.push(`${d.index}:${k}:${d.prob[k]}:${d.x},${d.y},${d.w},${d.h}`);
  }
  return out.sort();
}

function sparseFinal(c: Candidates, kept: Int32Array) {
  return Array.from(kept, (i) => `${c.det[i]}:${c.cls[i]}:${c.prob[i]}:${Array.from(c.box.subarray(4 * i, 4 * i + 4)).join(',')}`).sort();
}

/** get_region_detections over the FULLY activated tensor (every anchor and cell, no gate). */
function denseRegion(out: Float32Array, num: number, classes: number, H: number, W: number, anchors: number[],
  thresh: number, fr: BoxFrame, softmax: boolean, tree?: WordTree, hier = 0.5): DenseDet[] {
  const E = 5 + classes, HW = H * W;
  const dets: DenseDet[] = [];
  const cp = new Float32Array(classes);
  for (let i = 0; i < HW; i++) for (let n = 0; n < num; n++) {
    const at = (e: number) => out[(n * E + e) * HW + i];
    const scale = logistic(at(4));
    const row = Math.trunc(i / W), col = i % W;
    let x = f(f(col + logistic(at(0))) / W), y = f(f(row + logistic(at(1))) / H);
    let w = f((Math.exp(at(2)) * f(anchors[2 * n])) / W), h = f((Math.exp(at(3)) * f(anchors[2 * n + 1])) / H);
    x = f((x - fr.offX) / fr.scaleX); y = f((y - fr.offY) / fr.scaleY); w = f(w * fr.invScaleX); h = f(h * fr.invScaleY);
    const prob = new Float32Array(classes);
    const th = f(thresh);
    if (tree) {
      treeSoftmax(out, (n * E + 5) * HW + i, HW, tree, cp);
      hierarchyPredictions(cp, tree);
      prob[hierarchyTopPrediction(cp, tree, hier)] = scale > th ? scale : 0;
    } else if (scale > th) {
      for (let j = 0; j < classes; j++) cp[j] = softmax ? 0 : logistic(at(5 + j));
      if (softmax) {
        let m = -Infinity; for (let j = 0; j < classes; j++) m = Math.max(m, at(5 + j));
        let s = 0; for (let j = 0; j < classes; j++) { cp[j] = f(Math.exp(f(at(5 + j) - m))); s = f(s + cp[j]); }
        for (let j = 0; j < classes; j++) cp[j] = f(cp[j] / s);
      }
      for (let j = 0; j < classes; j++) { const p = f(scale * cp[j]); prob[j] = p > th ? p : 0; }
    }
    dets.push({ x, y, w, h, objectness: scale > th ? scale : 0, prob, index: n * HW + i });
  }
  return dets;
}

describe('NMS (do_nms_sort semantics)', () => {
  function cands(list: [number, number, number, number, number, number][]): Candidates {
    const c = emptyCandidates(2); // small on purpose: exercises growth
    list.forEach(([x, y, w, h, cls, p], i) => pushCandidate(c, x, y, w, h, cls, p, i));
    return c;
  }
  // A and B: IoU .6; A and C: IoU 1/3; B and C: IoU .6
  const A: [number, number, number, number] = [0.5, 0.5, 0.2, 0.2];
  const B: [number, number, number, number] = [0.55, 0.5, 0.2, 0.2];
  const C: [number, number, number, number] = [0.6, 0.5, 0.2, 0.2];

  it('computes IoU like box_iou', () => {
    expect(iouDarknet(...A, ...B)).toBeCloseTo(0.6, 5);
    expect(iouDarknet(...A, ...C)).toBeCloseTo(1 / 3, 5);
    expect(iouDarknet(...A, 0.9, 0.9, 0.1, 0.1)).toBe(0);
  });

  it('suppressed boxes do not suppress others', () => {
    const c = cands([[...C, 0, 0.7], [...A, 0, 0.9], [...B, 0, 0.8]]);
    // A keeps, B goes (.6 > .45), C survives: its only big overlap is with the suppressed B.
    expect(Array.from(nms(c, { nms: 0.45 }))).toEqual([1, 0]);
    // a lower threshold removes C too (1/3 > .3)
    expect(Array.from(nms(c, { nms: 0.3 }))).toEqual([1]);
  });

  it('suppresses only when IoU is strictly greater than the threshold', () => {
    // exact dyadic boxes: inter .1875, union .3125, IoU = float(.6) exactly
    const c = cands([[0.5, 0.5, 0.5, 0.5, 0, 0.9], [0.625, 0.5, 0.5, 0.5, 0, 0.8]]);
    expect(iouDarknet(0.5, 0.5, 0.5, 0.5, 0.625, 0.5, 0.5, 0.5)).toBe(f(0.6));
    expect(nms(c, { nms: 0.6 }).length).toBe(2);
    expect(nms(c, { nms: 0.5999 }).length).toBe(1);
  });

  it('per class by default; agnostic, classes filter, maxDet, pre-NMS top-k', () => {
    const c = cands([[...A, 0, 0.9], [...B, 1, 0.85], [...C, 0, 0.7], [...B, 0, 0.8], [...A, 1, 0.3]]);
    // class 0: A(.9) keeps, B(.8) goes, C(.7) stays. class 1: B(.85) keeps, A(.3) goes.
    expect(Array.from(nms(c, { nms: 0.45 }))).toEqual([0, 1, 2]);
    // agnostic: A(.9) removes B(.85) and B(.8) and A(.3); C stays
    expect(Array.from(nms(c, { nms: 0.45, agnostic: true }))).toEqual([0, 2]);
    expect(Array.from(nms(c, { nms: 0.45, classes: [1] }))).toEqual([1]);
    // the filtered class suppresses nothing in agnostic mode
    expect(Array.from(nms(c, { nms: 0.45, agnostic: true, classes: new Set([1]) }))).toEqual([1]);
    expect(Array.from(nms(c, { nms: 0.45, maxDet: 2 }))).toEqual([0, 1]);
    // top-k 1 per class: only A (class 0) and B (class 1) enter
    expect(Array.from(nms(c, { nms: 0.45, preNmsTopK: 1 }))).toEqual([0, 1]);
    expect(() => nms(c, { nms: 1.5 })).toThrow(PinholeError);
    expect(() => nms(c, { nms: 0.5, maxDet: -1 })).toThrow(/max_det/);
  });

  it('equals a dense do_nms_sort port on random overlapping boxes, batched', () => {
    const r = rng(3);
    const classes = 4;
    const images: { dense: DenseDet[]; sparse: Candidates }[] = [];
    for (let img = 0; img < 8; img++) {
      const dense: DenseDet[] = [];
      const sparse = emptyCandidates();
      for (let d = 0; d < 150; d++) {
        const x = f(0.3 + 0.4 * r()), y = f(0.3 + 0.4 * r()), w = f(0.05 + 0.3 * r()), h = f(0.05 + 0.3 * r());
        const prob = new Float32Array(classes);
        for (let k = 0; k < classes; k++) if (r() < 0.4) prob[k] = f(0.25 + 0.75 * r());
        dense.push({ x, y, w, h, objectness: 1, prob, index: d });
        for (let k = 0; k < classes; k++) if (prob[k]) pushCandidate(sparse, x, y, w, h, k, prob[k], d);
      }
      images.push({ dense, sparse });
    }
    for (const t of [0.3, 0.45, 0.7]) {
      const kept = nmsBatch(images.map((i) => i.sparse), { nms: t });
      images.forEach((im, b) => {
        const want = denseFinal(denseNmsSort(im.dense.map((d) => ({ ...d, prob: d.prob.slice() })), classes, t), classes, 0.25);
        expect(want.length).toBeGreaterThan(5);
        expect(sparseFinal(im.sparse, kept[b])).toEqual(want);
        expect(Array.from(nms(im.sparse, { nms: t }))).toEqual(Array.from(kept[b]));
      });
    }
  });
});

describe('fast paths equal the dense darknet computation', () => {
  it('YOLOv2: objectness gate + sparse NMS == activate everything + do_nms_sort', () => {
    const r = rng(11);
    const num = 3, classes = 6, H = 5, W = 4, anchors = [1, 1.5, 2.5, 2, 4, 3.5];
    const per = num * (5 + classes) * H * W;
    const batch = 3;
    const out = uniform(per * batch, r, 4);
    const sizes = [{ width: 500, height: 375 }, { width: 375, height: 500 }, { width: 160, height: 160 }];
    const frames = sizes.map((s) => boxFrame('letterbox', s, 160, 160));
    for (const softmax of [true, false]) for (const thresh of [0.1, 0.25, 0.5]) {
      const cands = decodeRegion(out, [batch, num * (5 + classes), H, W], { num, anchors, classes, softmax }, frames, thresh);
      const kept = nmsBatch(cands, { nms: 0.45 });
      for (let b = 0; b < batch; b++) {
        const dense = denseRegion(out.subarray(b * per, (b + 1) * per), num, classes, H, W, anchors, thresh, frames[b], softmax);
        const want = denseFinal(denseNmsSort(dense, classes, 0.45), classes, thresh);
        expect(sparseFinal(cands[b], kept[b])).toEqual(want);
        if (thresh === 0.25) expect(want.length).toBeGreaterThan(2);
      }
    }
  });

  it('YOLO9000: gate before the tree softmax + lazy descent == darknet order (softmax all, then boxes)', () => {
    const r = rng(5);
    const tree = buildWordTree(parseTreeText(TINY_TREE + 'b2 1\nb11 4\nb12 4\nb13 4\n'));
    const classes = tree.n, num = 2, H = 4, W = 4, anchors = [1, 1, 3, 2];
    const per = num * (5 + classes) * H * W;
    const out = uniform(per * 2, r, 5);
    const sizes = [{ width: 300, height: 200 }, { width: 128, height: 128 }];
    const frames = sizes.map((s) => boxFrame('letterbox', s, 128, 128));
    let total = 0;
    for (const thresh of [0.2, 0.5]) for (const hier of [0.1, 0.5, 0.8]) {
      const cands = decodeRegionTree(out, [2, num * (5 + classes), H, W], { num, anchors }, tree, frames, thresh, { mode: 'top', hier });
      const kept = nmsBatch(cands, { nms: 0.45 });
      for (let b = 0; b < 2; b++) {
        const dense = denseRegion(out.subarray(b * per, (b + 1) * per), num, classes, H, W, anchors, thresh, frames[b], true, tree, hier);
        const want = denseFinal(denseNmsSort(dense, classes, 0.45), classes, thresh);
        expect(sparseFinal(cands[b], kept[b])).toEqual(want);
        total += want.length;
      }
    }
    expect(total).toBeGreaterThan(20);
  });
});

describe('postprocess (API level)', () => {
  const tree = parseTreeText(TINY_TREE);
  const model9k = {
    input: { width: 64, height: 64 }, preprocess: 'letterbox' as const, names: ['a', 'b', 'a1', 'a2', 'b1', 'a1x', 'a1y'],
    num: 1, anchors: [1, 1], coords: 4, softmax: true, tree,
  };
  // one cell, one anchor: obj sigmoid(2) = .881, tree logits as in the WordTree tests
  const out = Float32Array.of(0, 0, 0, 0, 2, Math.log(3), 0, Math.log(4), 0, 0, 0, Math.log(9));

  it('yolo9000: chosen node with objectness as score and the root-to-node path', () => {
    const [d] = postprocess('yolo9000', model9k, out, [1, 12, 1, 1], [{ width: 64, height: 64 }], { hier: 0.4 });
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ class_id: 2, class: 'a1', path: ['a', 'a1'] });
    expect(d[0].score).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    // box: centre .5, size 1 (anchor 1 cell of a 1x1 grid) -> the whole 64x64 image
    expect(d[0].box).toEqual({ x1: 0, y1: 0, x2: 64, y2: 64 });
    const [d2] = postprocess('yolo9000', model9k, out, [1, 12, 1, 1], [{ width: 64, height: 64 }], { hier: 0.2 });
    expect(d2[0].path).toEqual(['a', 'a1', 'a1y']);
    expect(postprocess('yolo9000', model9k, out, [1, 12, 1, 1], [{ width: 64, height: 64 }], { thresh: 0.9 })[0]).toEqual([]);
  });

  it('rejects bad parameters with 400 errors and unparsed tree files clearly', () => {
    const sz = [{ width: 64, height: 64 }];
    for (const p of [{ thresh: -0.1 }, { thresh: Number.NaN }, { nms: 2 }, { hier: 1.5 }, { maxDet: 1.5 }, { classes: [7] }]) {
      let err: unknown;
      try { postprocess('yolo9000', model9k, out, [1, 12, 1, 1], sz, p); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(PinholeError);
      expect((err as PinholeError).status).toBe(400);
    }
    expect(() => postprocess('yolo9000', { ...model9k, tree: '9k.tree' }, out, [1, 12, 1, 1], sz)).toThrow(/parseTreeText/);
  });
});
