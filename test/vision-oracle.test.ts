// src/vision against the LIVE darknet oracle: seeded random weights (gen_weights.py, seed 1), darknet
// runs the network and dumps `pre` (the raw logits the region/detection layer gets = what our ONNX
// model outputs); our postprocess() decodes those logits + NMS and must give darknet's own boxes:
// same count, same class, IoU >= 0.99, |score diff| <= 1e-3. Runs use network-size PNGs (no
// letterbox padding) and dog.jpg itself (768x576: letterbox undo / plain resize exercised).
// Oracle runs go through test/helpers/oracle.ts (cached by content under os.tmpdir()).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTreeText, postprocess, type DetectorModelLike } from '../src/vision/index.ts';
import { darknetCfg, darknetData, runOracle, type OracleResult } from './helpers/oracle.ts';
import { darknetDetections, dogPng, matchDarknet } from './helpers/oracle-match.ts';

interface Case {
  model: 'yolov1-tiny' | 'yolov2-tiny-voc' | 'yolov2' | 'yolo9000';
  /** network size PNG ('png') or dog.jpg itself */
  image: 'png' | 'jpg';
  thresh: number;
  hier?: number;
  /** gen_weights --last-gain: scales the last layer's logits to get tens of boxes */
  lastGain?: number;
}

// Thresholds picked so each run yields tens of boxes with these random weights (measured:
// yolov1-tiny at the default gain gives ~700 boxes at .25, hence last-gain .25; yolo9000's random
// objectness is mostly high: ~230 boxes at .5, ~17 at .85, none at .9).
const V1_GAIN = 0.25;
const CASES: Case[] = [
  { model: 'yolov1-tiny', image: 'png', thresh: 0.2, lastGain: V1_GAIN },
  { model: 'yolov1-tiny', image: 'png', thresh: 0.35, lastGain: V1_GAIN },
  { model: 'yolov1-tiny', image: 'jpg', thresh: 0.25, lastGain: V1_GAIN },
  { model: 'yolov2-tiny-voc', image: 'png', thresh: 0.25 },
  { model: 'yolov2-tiny-voc', image: 'png', thresh: 0.4 },
  { model: 'yolov2-tiny-voc', image: 'jpg', thresh: 0.3 },
  { model: 'yolov2', image: 'png', thresh: 0.3 },
  { model: 'yolov2', image: 'jpg', thresh: 0.25 },
  { model: 'yolo9000', image: 'png', thresh: 0.85, hier: 0.5 },
  { model: 'yolo9000', image: 'png', thresh: 0.8, hier: 0.3 },
  { model: 'yolo9000', image: 'png', thresh: 0.85, hier: 0.7 },
  { model: 'yolo9000', image: 'jpg', thresh: 0.85, hier: 0.4 },
];

const NET: Record<Case['model'], number> = { 'yolov1-tiny': 448, 'yolov2-tiny-voc': 416, yolov2: 608, yolo9000: 544 };
const NAMES: Record<Case['model'], string> = { 'yolov1-tiny': 'voc.names', 'yolov2-tiny-voc': 'voc.names', yolov2: 'coco.names', yolo9000: '9k.names' };

/** At most `n` oracle processes at a time: 2 cores, shared with other test files. */
function limit(n: number) {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await job();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function modelFor(c: Case, r: OracleResult): { kind: 'yolov1' | 'yolov2' | 'yolo9000'; model: DetectorModelLike; dims: number[] } {
  const L = r.json.last_layer;
  const names = readFileSync(darknetData(NAMES[c.model]), 'utf8').split('\n').filter((s) => s.length > 0);
  expect(names.length).toBe(L.classes);
  const base = {
    input: { width: r.json.net.w, height: r.json.net.h },
    preprocess: r.json.input.mode === 'letterbox' ? 'letterbox' as const : 'resize' as const,
    names,
  };
  if (L.type === 'DETECTION') {
    return {
      kind: 'yolov1',
      model: { ...base, side: L.side, num: L.n, sqrt: !!L.sqrt, softmax: !!L.softmax },
      dims: [1, L.side * L.side * (L.classes + 5 * L.n)],
    };
  }
  const region = { ...base, num: L.n, anchors: L.anchors!, coords: L.coords, softmax: !!L.softmax, background: !!L.background };
  const dims = [1, L.n * (L.coords + 1 + L.classes), L.h, L.w];
  if (L.tree) {
    const tree = parseTreeText(readFileSync(darknetData('9k.tree'), 'utf8'));
    return { kind: 'yolo9000', model: { ...region, tree }, dims };
  }
  return { kind: 'yolov2', model: region, dims };
}

const results = new Map<Case, Promise<OracleResult>>();

beforeAll(() => {
  const run = limit(2);
  // Cheap models first so their tests can start while the big ones still run.
  for (const c of CASES) {
    const image = c.image === 'jpg' ? Promise.resolve(darknetData('dog.jpg')) : dogPng(NET[c.model]);
    const p = image.then((img) => run(() => runOracle({
      cfg: darknetCfg(c.model), seed: 1, lastGain: c.lastGain, image: img, thresh: c.thresh, hier: c.hier, nms: 0.45,
    })));
    p.catch(() => undefined); // reported by the test that awaits it
    results.set(c, p);
  }
});

describe('decode + NMS of darknet logits == darknet boxes (live oracle)', () => {
  for (const c of CASES) {
    const label = `${c.model} ${c.image === 'png' ? `${NET[c.model]}px png` : 'dog.jpg 768x576'} thresh ${c.thresh}` +
      (c.hier !== undefined ? ` hier ${c.hier}` : '') + (c.lastGain !== undefined ? ` (last-gain ${c.lastGain})` : '');
    it(label, async () => {
      const r = await results.get(c)!;
      const { kind, model, dims } = modelFor(c, r);
      const im = { width: r.json.input.image_w, height: r.json.input.image_h };
      if (c.image === 'jpg') expect(im).toEqual({ width: 768, height: 576 });
      else expect(im).toEqual({ width: NET[c.model], height: NET[c.model] });

      const t0 = performance.now();
      const [mine] = postprocess(kind, model, r.pre, dims, [im], {
        thresh: c.thresh, hier: c.hier, nms: r.json.nms, maxDet: 100000,
      });
      const ms = performance.now() - t0;

      const dk = darknetDetections(r.json, im);
      const { unmatched, worstIou, worstScore } = matchDarknet(dk, mine);
      const classes = new Set(dk.map((d) => d.class_id)).size;
      console.log(`[vision-oracle] ${label}: darknet ${dk.length} boxes (${classes} classes), ours ${mine.length}; ` +
        `worst IoU ${worstIou.toFixed(6)}, worst |score diff| ${worstScore.toExponential(2)}; decode+NMS ${ms.toFixed(2)} ms`);
      expect(unmatched).toEqual([]);
      expect(mine.length).toBe(dk.length);
      // a run without boxes would prove nothing: the thresholds above are chosen to give tens
      expect(dk.length).toBeGreaterThanOrEqual(5);
      if (kind === 'yolo9000') {
        for (const d of mine) {
          expect(d.path![d.path!.length - 1]).toBe(model.names[d.class_id]);
          expect(d.path![0]).toBeTruthy();
        }
      }
    }, 300_000); // a cold cache queues ~90 s of darknet runs (2 at a time) ahead of the last case
  }
});
