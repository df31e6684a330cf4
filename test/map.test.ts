// mAP on hand-computed cases. Each case writes the computation out in the comment above it.
import { describe, expect, it } from 'vitest';
import {
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_POINTS,
  cocoClassAP,
  evalJson,
  evaluateDetections,
  iou,
  vocAveragePrecision,
  vocClassAP,
  type Prediction,
  type Truth,
} from '../src/vision/map.ts';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
const gt = (imageId: string, b: ReturnType<typeof box>, classId = 0, difficult = false): Truth => ({ imageId, classId, box: b, difficult });
const det = (imageId: string, score: number, b: ReturnType<typeof box>, classId = 0): Prediction => ({ imageId, classId, score, box: b });

describe('iou', () => {
  it('is intersection over union in continuous coordinates', () => {
    // [0,10]x[0,10] vs [1,11]x[0,10]: inter 9*10 = 90, union 100 + 100 - 90 = 110
    expect(iou(box(0, 0, 10, 10), box(1, 0, 11, 10))).toBeCloseTo(90 / 110, 12);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0); // touching edges
    expect(iou(box(0, 0, 10, 10), box(2, 2, 4, 4))).toBeCloseTo(4 / 100, 12);
  });
});

describe('COCO grids are numpy linspace', () => {
  it('has 10 IoU thresholds and 101 recall points', () => {
    expect(COCO_IOU_THRESHOLDS.length).toBe(10);
    expect(COCO_IOU_THRESHOLDS[0]).toBe(0.5);
    expect(COCO_IOU_THRESHOLDS[9]).toBe(0.95);
    expect(COCO_RECALL_POINTS.length).toBe(101);
    expect(COCO_RECALL_POINTS[100]).toBe(1);
    expect(COCO_RECALL_POINTS[7]).toBe(7 * 0.01);
  });
});

// Case A: one class, two images.
//   image a: g1 = [0,0,10,10], g2 = [20,20,30,30];  image b: g3 = [0,0,10,10]      (npos = 3)
//   d1 .9 a [0,0,10,10]   IoU(g1) = 1                     -> TP (claims g1)
//   d2 .8 a [1,0,11,10]   IoU(g1) = 90/110 = .82 > .5     -> FP (g1 already claimed)
//   d3 .7 b [50,50,60,60] no overlap                      -> FP
//   d4 .6 a [20,20,30,30] IoU(g2) = 1                     -> TP
//   d5 .5 b [0,0,10,10]   IoU(g3) = 1                     -> TP
// recall    = 1/3, 1/3, 1/3, 2/3, 1
// precision = 1,   1/2, 1/3, 2/4, 3/5
// VOC all-point: monotone precision from the right = 1, .6, .6, .6, .6;
//   AP = 1/3*1 + (2/3-1/3)*.6 + (1-2/3)*.6 = 1/3 + .2 + .2 = 0.7333...
// COCO (every match has IoU 1, so all 10 thresholds agree): at recall point r the precision of the
//   first entry with recall >= r: r = 0..0.33 -> 1 (34 points); r = .34..1 -> .6 (67 points)
//   AP = (34 + 67*.6)/101 = 74.2/101 = 0.734653...
const caseA = {
  truths: [gt('a', box(0, 0, 10, 10)), gt('a', box(20, 20, 30, 30)), gt('b', box(0, 0, 10, 10))],
  preds: [
    det('a', 0.9, box(0, 0, 10, 10)),
    det('a', 0.8, box(1, 0, 11, 10)),
    det('b', 0.7, box(50, 50, 60, 60)),
    det('a', 0.6, box(20, 20, 30, 30)),
    det('b', 0.5, box(0, 0, 10, 10)),
  ],
};

describe('VOC AP (all-point)', () => {
  it('case A', () => {
    const r = vocClassAP(caseA.preds, caseA.truths, 0);
    expect(r.npos).toBe(3);
    expect(r.tp).toEqual([1, 0, 0, 1, 1]);
    expect(r.recall).toEqual([1 / 3, 1 / 3, 1 / 3, 2 / 3, 1]);
    expect(r.ap).toBeCloseTo(1 / 3 + 0.2 + 0.2, 12);
  });

  it('does not depend on the order detections are given in', () => {
    const shuffled = [caseA.preds[3], caseA.preds[0], caseA.preds[4], caseA.preds[2], caseA.preds[1]];
    expect(vocClassAP(shuffled, caseA.truths, 0).ap).toBeCloseTo(0.7333333333333, 12);
  });

  it('all-point interpolation, not 11-point', () => {
    // recall .5 at precision 1, then recall 1 at precision .5:
    //   all-point = .5*1 + .5*.5 = .75 ; 11-point would be (6*1 + 5*.5)/11 = .7727
    expect(vocAveragePrecision([0.5, 1], [1, 0.5])).toBeCloseTo(0.75, 12);
  });

  // Case B: difficult boxes are neither hits nor misses.
  //   image c: g4 = [0,0,10,10] difficult, g5 = [20,0,30,10]           (npos = 1)
  //   e1 .9 on g4 -> ignored; e2 .8 on g5 -> TP; e3 .3 elsewhere -> FP
  //   recall 1, 1; precision 1, 1/2 -> AP = 1.
  //   (Counting e1 as an FP would give precision 1/2 at recall 1 -> AP .5; counting g4 as a
  //   positive would give npos 2 -> AP .5.)
  it('case B: difficult ground truth is ignored', () => {
    const truths = [gt('c', box(0, 0, 10, 10), 0, true), gt('c', box(20, 0, 30, 10))];
    const preds = [det('c', 0.9, box(0, 0, 10, 10)), det('c', 0.8, box(20, 0, 30, 10)), det('c', 0.3, box(40, 0, 50, 10))];
    const r = vocClassAP(preds, truths, 0);
    expect(r.npos).toBe(1);
    expect(r.tp).toEqual([1, 0]);
    expect(r.ap).toBe(1);
    expect(cocoClassAP(preds, truths, 0).ap).toBeCloseTo(1, 12);
  });

  it('a detection takes its highest-IoU box even if that one is claimed (no second choice)', () => {
    // g6 = [0,0,10,10], g7 = [6,0,16,10]. d .9 = [0,0,10,10] claims g6.
    // d' .8 = [1,0,11,10]: IoU(g6) = 90/110 = .82, IoU(g7) = 50/150 = .33 -> best is g6, claimed -> FP
    // (g7's IoU is below .5 anyway). recall 1/2, 1/2; precision 1, 1/2 -> AP = .5
    const truths = [gt('d', box(0, 0, 10, 10)), gt('d', box(6, 0, 16, 10))];
    const preds = [det('d', 0.9, box(0, 0, 10, 10)), det('d', 0.8, box(1, 0, 11, 10))];
    const r = vocClassAP(preds, truths, 0);
    expect(r.tp).toEqual([1, 0]);
    expect(r.ap).toBeCloseTo(0.5, 12);
  });

  it('no ground truth: AP is NaN (left out of the mean)', () => {
    expect(vocClassAP([det('x', 0.5, box(0, 0, 1, 1))], [], 0).ap).toBeNaN();
  });
});

describe('COCO AP (101-point, IoU .5:.95)', () => {
  it('case A', () => {
    const r = cocoClassAP(caseA.preds, caseA.truths, 0);
    expect(r.npig).toBe(3);
    for (const a of r.apPerIou) expect(a).toBeCloseTo(74.2 / 101, 12);
    expect(r.ap).toBeCloseTo(74.2 / 101, 12);
  });

  // One box g = [0,0,10,10], one detection [0,0,10,7.2]: IoU = 72/100 = .72.
  // It matches at thresholds .50 .55 .60 .65 .70 (AP 1 each) and not at .75 .. .95 (AP 0 each):
  // COCO AP = 5/10 = .5; VOC AP@.5 = 1.
  it('averages over IoU thresholds', () => {
    const truths = [gt('e', box(0, 0, 10, 10))];
    const preds = [det('e', 0.9, box(0, 0, 10, 7.2))];
    const r = cocoClassAP(preds, truths, 0);
    // (precision is tp / (tp + fp + eps) as in pycocotools, hence closeTo)
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0].forEach((v, t) => expect(r.apPerIou[t]).toBeCloseTo(v, 12));
    expect(r.ap).toBeCloseTo(0.5, 12);
    expect(vocClassAP(preds, truths, 0).ap).toBe(1);
  });

  // IoU exactly .5 ([0,0,10,5] on [0,0,10,10]: 50/100): the VOC devkit needs IoU > .5 (miss, AP 0);
  // pycocotools needs IoU >= t (hit at .5 only: AP = 1/10).
  it('threshold conventions: VOC strict, COCO inclusive', () => {
    const truths = [gt('f', box(0, 0, 10, 10))];
    const preds = [det('f', 0.9, box(0, 0, 10, 5))];
    expect(vocClassAP(preds, truths, 0).ap).toBe(0);
    expect(cocoClassAP(preds, truths, 0).ap).toBeCloseTo(0.1, 12);
  });

  // Recall point sampling: npos = 4, detections TP, FP, TP at IoU 1.
  //   recall .25 .25 .5 ; precision 1 .5 .667 -> monotone 1 .667 .667
  //   r = 0..0.25 -> 1 (26 points), r = .26...5 -> .667 (25 points), r > .5 -> 0 (50 points)
  //   AP = (26 + 25*2/3)/101
  it('recall points past the last recall count zero', () => {
    const truths = [0, 1, 2, 3].map((k) => gt('g', box(20 * k, 0, 20 * k + 10, 10)));
    const preds = [det('g', 0.9, box(0, 0, 10, 10)), det('g', 0.8, box(100, 100, 110, 110)), det('g', 0.7, box(20, 0, 30, 10))];
    expect(cocoClassAP(preds, truths, 0).ap).toBeCloseTo((26 + (25 * 2) / 3) / 101, 12);
    // VOC: 1/4*1 + 1/4*2/3 = .41667
    expect(vocClassAP(preds, truths, 0).ap).toBeCloseTo(0.25 + 0.25 * (2 / 3), 12);
  });

  it('keeps the best maxDets detections per image and class', () => {
    // the only hit has the lowest score; with maxDets 1 it is cut, AP 0; with 2 it counts:
    // FP then TP -> precision .5 at recall 1 -> AP .5
    const truths = [gt('h', box(0, 0, 10, 10))];
    const preds = [det('h', 0.9, box(50, 50, 60, 60)), det('h', 0.1, box(0, 0, 10, 10))];
    expect(cocoClassAP(preds, truths, 0, 1).ap).toBe(0);
    expect(cocoClassAP(preds, truths, 0, 2).ap).toBeCloseTo(0.5, 12);
  });
});

describe('evaluateDetections / evalJson', () => {
  // class 0 = case A (VOC .7333, COCO .7347); class 1: one box found exactly (1, 1);
  // class 2: no ground truth (a stray detection) -> left out of both means and of per_class.
  // map50 = (.73333 + 1)/2 = .86667; map = (74.2/101 + 1)/2
  it('means over classes with ground truth, names per class', () => {
    const truths = [...caseA.truths, gt('a', box(40, 40, 50, 60), 1)];
    const preds = [...caseA.preds, det('a', 0.4, box(40, 40, 50, 60), 1), det('b', 0.9, box(0, 0, 5, 5), 2)];
    const m = evaluateDetections(preds, truths, ['circle', 'square', 'star']);
    expect(m.map50).toBeCloseTo((1 / 3 + 0.4 + 1) / 2, 12);
    expect(m.map).toBeCloseTo((74.2 / 101 + 1) / 2, 12);
    expect(m.perClass[2].ap50).toBeNaN();
    const j = evalJson(m);
    expect(Object.keys(j).sort()).toEqual(['map', 'map50', 'per_class']);
    expect(Object.keys(j.per_class)).toEqual(['circle', 'square']);
    expect(j.per_class.circle).toBeCloseTo(0.7333333333, 9);
    expect(j.per_class.square).toBe(1);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });

  it('no detections at all: zero', () => {
    const m = evaluateDetections([], caseA.truths, ['circle']);
    expect(m.map50).toBe(0);
    expect(m.map).toBe(0);
  });

  it('rejects non-finite scores', () => {
    expect(() => evaluateDetections([det('a', NaN, box(0, 0, 1, 1))], caseA.truths, ['circle'])).toThrow(/score/);
  });
});
