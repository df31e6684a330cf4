// End to end against the live darknet oracle: image FILE -> Runtime.detect (sharp decode, letterbox or
// resize, ONNX Runtime in a worker on the darknet-imported graph, decode + NMS) must give darknet's own
// boxes for the same cfg + seeded random weights + image: same count, same class, IoU >= 0.99,
// |score diff| <= 1e-3. PNGs at network size, and dog.jpg itself (sharp's libjpeg-turbo decodes it as
// darknet's OpenCV does, and the resampling is darknet's own: test/darknet-input), give the identical input.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDarknet } from '../src/onnx/darknet/folder.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { darknetCfg, darknetData, oracleWeights, runOracle, type OracleResult } from './helpers/oracle.ts';
import { darknetDetections, dogPng, matchDarknet } from './helpers/oracle-match.ts';

interface Case {
  model: 'yolov1-tiny' | 'yolov2-tiny-voc' | 'yolov2' | 'yolo9000';
  size: number;
  thresh: number;
  hier?: number;
  lastGain?: number;
}

const NAMES: Record<Case['model'], string> = { 'yolov1-tiny': 'voc.names', 'yolov2-tiny-voc': 'voc.names', yolov2: 'coco.names', yolo9000: '9k.names' };

// thresholds / last-layer gain giving tens of boxes with seed-1 random weights (as in vision-oracle)
const CASES: Case[] = [
  { model: 'yolov2-tiny-voc', size: 416, thresh: 0.25 },
  { model: 'yolov2-tiny-voc', size: 416, thresh: 0.4 },
  { model: 'yolov1-tiny', size: 448, thresh: 0.2, lastGain: 0.25 },
  { model: 'yolov2', size: 608, thresh: 0.3 },
  { model: 'yolo9000', size: 544, thresh: 0.85, hier: 0.5 },
  { model: 'yolo9000', size: 544, thresh: 0.8, hier: 0.3 },
];

let root: string;
let rt: Runtime;
const oracle = new Map<Case, OracleResult>();
const folder = (c: Case) => `${c.model}${c.lastGain !== undefined ? `-g${c.lastGain}` : ''}`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-runtime-conf-'));
  const models = new Map<string, Case>();
  for (const c of CASES) models.set(folder(c), c);
  for (const [name, c] of models) {
    const weights = await oracleWeights(darknetCfg(c.model), { seed: 1, lastGain: c.lastGain });
    await importDarknet({
      cfg: darknetCfg(c.model), weights, out: join(root, 'models', name), names: darknetData(NAMES[c.model]),
      tree: c.model === 'yolo9000' ? darknetData('9k.tree') : undefined,
    });
  }
  for (const c of CASES) {
    oracle.set(c, await runOracle({ cfg: darknetCfg(c.model), seed: 1, lastGain: c.lastGain, image: await dogPng(c.size), thresh: c.thresh, hier: c.hier, nms: 0.45 }));
  }
  rt = await Runtime.create({ modelsDir: join(root, 'models'), maxBatch: 1, warmup: false, log: { info() {}, warn() {}, error() {} } });
}, 600_000);

afterAll(async () => {
  await rt?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('image file -> boxes through the Runtime == darknet (live oracle)', () => {
  for (const c of CASES) {
    it(`${c.model} ${c.size}px png thresh ${c.thresh}${c.hier !== undefined ? ` hier ${c.hier}` : ''}`, async () => {
      const r = oracle.get(c)!;
      const png = readFileSync(await dogPng(c.size));
      const info = rt.model(folder(c))!;
      expect(info.status).toBe('ready');

      // the network input itself: bit-identical to darknet's
      const pre = await preprocess(png, info.input!, r.json.input.mode === 'letterbox' ? 'letterbox' : 'resize');
      let maxDiff = 0;
      for (let i = 0; i < pre.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pre.data[i] - r.input[i]));
      expect(pre.data.length).toBe(r.input.length);
      expect(maxDiff).toBe(0);

      const res = await rt.detect(folder(c), png, { thresh: c.thresh, hier: c.hier, nms: r.json.nms, maxDet: 100000 });
      const im = res.image;
      expect(im).toEqual({ width: c.size, height: c.size });
      const dk = darknetDetections(r.json, im);
      const mine = res.detections;
      const { unmatched, worstIou, worstScore } = matchDarknet(dk, mine);
      console.log(`[runtime-conformance] ${c.model} thresh ${c.thresh}${c.hier !== undefined ? ` hier ${c.hier}` : ''}: darknet ${dk.length} boxes, runtime ${mine.length}; `
        + `worst IoU ${worstIou.toFixed(6)}, worst |score diff| ${worstScore.toExponential(2)}; input max|diff| ${maxDiff}; `
        + `timing ${JSON.stringify(res.timing_ms)}`);
      expect(unmatched).toEqual([]);
      expect(mine.length).toBe(dk.length);
      expect(dk.length).toBeGreaterThanOrEqual(5);
      if (c.model === 'yolo9000') for (const d of mine) expect(d.path!.at(-1)).toBe(d.class);
    });
  }

  it('dog.jpg (768x576) itself, letterboxed: darknet\'s input value for value, and darknet\'s boxes', async () => {
    const c = CASES[0];
    const r = await runOracle({ cfg: darknetCfg(c.model), seed: 1, image: darknetData('dog.jpg'), thresh: c.thresh, nms: 0.45 });
    expect(r.json.input.mode).toBe('letterbox');
    const jpeg = readFileSync(darknetData('dog.jpg'));
    const pre = await preprocess(jpeg, { width: 416, height: 416, channels: 3, layout: 'NCHW' }, 'letterbox');
    expect(pre.geometry).toMatchObject({ newW: 416, newH: 312, dx: 0, dy: 52 });
    let maxDiff = 0;
    for (let i = 0; i < pre.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pre.data[i] - r.input[i]));
    expect(maxDiff).toBe(0);
    const res = await rt.detect(folder(c), jpeg, { thresh: c.thresh, nms: r.json.nms, maxDet: 100000 });
    expect(res.image).toEqual({ width: 768, height: 576 });
    const dk = darknetDetections(r.json, res.image);
    const { unmatched, worstIou, worstScore } = matchDarknet(dk, res.detections);
    console.log(`[runtime-conformance] dog.jpg letterbox 416: input max|diff| ${maxDiff}; darknet ${dk.length} boxes, runtime ${res.detections.length}; `
      + `worst IoU ${worstIou.toFixed(6)}, worst |score diff| ${worstScore.toExponential(2)}`);
    expect(unmatched).toEqual([]);
    expect(res.detections.length).toBe(dk.length);
    expect(dk.length).toBeGreaterThanOrEqual(5);
  });
});
