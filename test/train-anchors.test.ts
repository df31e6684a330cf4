import { describe, expect, it } from 'vitest';
import { kmeansAnchors } from '../src/train/yolo/anchors.ts';
import { shapeIou } from '../src/train/yolo/box.ts';
import { Rng } from '../src/train/engine/rng.ts';

describe('k-means anchors (1 - IoU distance)', () => {
  // three well separated shape families with multiplicative noise
  const families = [{ w: 0.05, h: 0.1 }, { w: 0.3, h: 0.3 }, { w: 0.6, h: 0.2 }];
  const rng = new Rng(7);
  const boxes = Array.from({ length: 600 }, (_, i) => {
    const f = families[i % 3];
    return { w: f.w * Math.exp(0.1 * rng.normal()), h: f.h * Math.exp(0.1 * rng.normal()) };
  });

  it('recovers the shape families and reports the mean IoU of the boxes with their centroids', () => {
    const r = kmeansAnchors(boxes, 3, 1);
    expect(r.anchors).toHaveLength(3);
    const want = families; // already in area order: .005, .09, .12
    r.anchors.forEach((a, i) => {
      expect(shapeIou(a.w, a.h, want[i].w, want[i].h)).toBeGreaterThan(0.9);
    });
    let sum = 0;
    for (const b of boxes) sum += Math.max(...r.anchors.map((a) => shapeIou(a.w, a.h, b.w, b.h)));
    expect(r.avgIou).toBeCloseTo(sum / boxes.length, 10);
    expect(r.avgIou).toBeGreaterThan(0.8);
  });

  it('is deterministic for a seed, and more clusters never fit worse', () => {
    expect(kmeansAnchors(boxes, 5, 3)).toEqual(kmeansAnchors(boxes, 5, 3));
    const ious = [1, 2, 3, 5].map((k) => kmeansAnchors(boxes, k, 2).avgIou);
    for (let i = 1; i < ious.length; i++) expect(ious[i]).toBeGreaterThanOrEqual(ious[i - 1] - 1e-9);
  });

  it('uses IoU, not Euclidean distance: a big box and a small box of the same aspect stay apart', () => {
    const pts = [...Array(50).fill({ w: 0.02, h: 0.02 }), ...Array(50).fill({ w: 0.5, h: 0.5 })];
    const r = kmeansAnchors(pts, 2, 0);
    expect(r.anchors[0].w).toBeCloseTo(0.02, 6);
    expect(r.anchors[1].w).toBeCloseTo(0.5, 6);
    expect(r.avgIou).toBeCloseTo(1, 6);
  });

  it('rejects impossible requests', () => {
    expect(() => kmeansAnchors([{ w: 1, h: 1 }], 2)).toThrow(/at least 2 boxes/);
    expect(() => kmeansAnchors(boxes, 0)).toThrow(/positive integer/);
  });
});
