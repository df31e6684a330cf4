// Darknet import conformance against the live darknet oracle: Debian's own cfgs with seeded random weights
// (gen_weights.py, seed 1), the same network input on both sides (the oracle's dumped input.f32 from its
// dog.jpg run), and ORT's output compared with darknet's `pre` tensor (raw input of the region/detection
// layer) within 1e-4 x max|pre|. FULL=1 adds yolov1.cfg (789 MB of weights).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { validateManifest, type Manifest } from '../src/manifest.ts';
import { importDarknet } from '../src/onnx/darknet/folder.ts';
import { paramLayout, readCfg } from '../src/onnx/darknet/cfg.ts';
import { weightFloats } from '../src/onnx/darknet/weights.ts';
import { applyWinograd, DEFAULT_RULE } from '../src/onnx/winograd/index.ts';
import { compareTensors, darknetCfg, darknetData, dkcfgWeightsBytes, runOracle } from './helpers/oracle.ts';

const work = mkdtempSync(join(tmpdir(), 'pinhole-darknet-conf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  cfg: string;
  kind: Manifest['kind'];
  names?: string;
  /** also run a batch of two to check the dynamic batch dimension */
  batch2?: boolean;
}

const CASES: Case[] = [
  { cfg: 'yolov1-tiny', kind: 'yolov1', names: 'voc.names' },
  { cfg: 'yolov2-tiny-voc', kind: 'yolov2', names: 'voc.names', batch2: true },
  { cfg: 'yolov2-tiny', kind: 'yolov2', names: 'coco.names' },
  { cfg: 'yolov2', kind: 'yolov2', names: 'coco.names' },
  { cfg: 'yolo9000', kind: 'yolo9000', names: '9k.names' },
  ...(process.env.FULL === '1' ? [{ cfg: 'yolov1', kind: 'yolov1' as const, names: 'voc.names' }] : []),
];

async function infer(model: string | Uint8Array, input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const opts = { graphOptimizationLevel: 'all', intraOpNumThreads: 2 } as const;
  const s = await (typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts));
  try {
    const out = await s.run({ images: new ort.Tensor('float32', input, dims) });
    const t = out.logits;
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await s.release();
  }
}

describe('darknet import matches darknet (random weights, seed 1, dog.jpg input)', () => {
  for (const c of CASES) {
    it(`${c.cfg}: ORT output == darknet pre within 1e-4 x max|pre|`, async () => {
      const cfg = darknetCfg(c.cfg);
      const r = await runOracle({ cfg, seed: 1, image: darknetData('dog.jpg'), thresh: 0.2 });
      const out = join(work, c.cfg);
      const res = await importDarknet({ cfg, weights: r.weights, out, names: c.names && darknetData(c.names) });
      console.log(
        `[darknet-import] ${c.cfg}: converted in ${res.seconds.total.toFixed(2)} s ` +
        `(parse ${res.seconds.parse}, weights ${res.seconds.weights}, graph ${res.seconds.convert}, ` +
        `ort check ${res.seconds.check}, write ${res.seconds.write}); model.onnx ${(res.onnxBytes / 1e6).toFixed(1)} MB`,
      );

      const m = validateManifest(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
      const last = r.json.last_layer;
      expect(m.kind).toBe(c.kind);
      expect(m.source).toBe('darknet');
      expect(m.input).toEqual({ width: r.json.net.w, height: r.json.net.h, channels: r.json.net.c, layout: 'NCHW' });
      expect(m.names.length).toBe(last.classes);
      if (m.kind === 'yolov1') {
        expect(last.type).toBe('DETECTION');
        expect(m.preprocess).toBe('resize');
        expect([m.side, m.num, m.sqrt, m.softmax, m.nms]).toEqual([last.side, last.n, last.sqrt === 1, last.softmax === 1, 0.4]);
      } else if (m.kind === 'yolov2' || m.kind === 'yolo9000') {
        expect(last.type).toBe('REGION');
        expect(m.preprocess).toBe('letterbox');
        expect([m.num, m.coords, m.softmax, m.background, m.nms]).toEqual([last.n, last.coords, last.softmax === 1, last.background === 1, 0.45]);
        expect(m.anchors.map((a) => Math.fround(a))).toEqual(last.anchors);
        expect(m.kind === 'yolo9000').toBe(last.tree);
        if (m.kind === 'yolo9000') {
          const tree = m.tree as { parents: number[]; labels: string[] };
          expect(tree.parents.length).toBe(9418);
          expect(tree.labels[0]).toBe('n00002452');
          expect(m.names[2]).toBe('object');
        }
      }

      const { c: C, h: H, w: W } = r.json.net;
      const y = await infer(join(out, 'model.onnx'), r.input, [1, C, H, W]);
      const preShape = r.json.pre.shape!;
      expect(y.dims).toEqual(last.type === 'REGION' ? [1, ...preShape] : [1, r.pre.length]);
      const cmp = compareTensors(y.data, r.pre);
      console.log(`[darknet-import] ${c.cfg}: ${r.pre.length} values, max|pre| ${cmp.maxAbs.toFixed(3)}, max|ORT-darknet| ${cmp.maxDiff.toExponential(2)} (${(cmp.maxDiff / cmp.maxAbs).toExponential(2)} relative)`);
      expect(cmp.maxAbs).toBeGreaterThan(0.1); // a degenerate all-zero output would prove nothing
      expect(cmp.maxDiff).toBeLessThanOrEqual(1e-4 * cmp.maxAbs);

      // the runtime's Winograd pass (on by default for CPU float32) with its tile choice, here on every 3x3 conv it can rewrite
      const wino = applyWinograd(readFileSync(join(out, 'model.onnx')), { ...DEFAULT_RULE, minChannels: 1, minInputValues: 1 });
      const yw = await infer(wino.bytes, r.input, [1, C, H, W]);
      const cmpW = compareTensors(yw.data, r.pre);
      console.log(`[darknet-import] ${c.cfg}: Winograd on ${wino.rewritten.length} convs, max|ORT-darknet| ${cmpW.maxDiff.toExponential(2)} (${(cmpW.maxDiff / cmpW.maxAbs).toExponential(2)} relative)`);
      expect(wino.rewritten.length).toBeGreaterThan(0);
      expect(cmpW.maxDiff).toBeLessThanOrEqual(1e-4 * cmpW.maxAbs);

      if (c.batch2) {
        // dynamic batch: the second image (input reversed) must not disturb the first
        const two = new Float32Array(2 * r.input.length);
        two.set(r.input);
        two.set(r.input.slice().reverse(), r.input.length);
        const y2 = await infer(join(out, 'model.onnx'), two, [2, C, H, W]);
        expect(y2.dims[0]).toBe(2);
        const first = compareTensors(y2.data.subarray(0, r.pre.length), r.pre);
        expect(first.maxDiff).toBeLessThanOrEqual(1e-4 * first.maxAbs);
        expect(compareTensors(y2.data.subarray(r.pre.length), r.pre).maxDiff).toBeGreaterThan(1e-2);
      }
      rmSync(out, { recursive: true, force: true });
    }, 300_000);
  }
});

describe('every Debian YOLO cfg parses with darknet\'s shapes', () => {
  const ALL = ['yolov1', 'yolov1-tiny', 'yolov2', 'yolov2-tiny', 'yolov2-tiny-voc', 'yolov2-voc', 'yolo9000'];
  it.each(ALL)('%s: weights size == the oracle\'s dkcfg layout; head shape as darknet prints it', async (name) => {
    const net = readCfg(darknetCfg(name));
    expect(20 + 4 * weightFloats(net)).toBe(await dkcfgWeightsBytes(darknetCfg(name), 20));
    expect(16 + 4 * weightFloats(net)).toBe(await dkcfgWeightsBytes(darknetCfg(name), 16));
    const head = net.layers[net.layers.length - 1];
    const withParams = net.layers.filter((l) => paramLayout(l).length > 0).length;
    expect(head.type).toBe(name.startsWith('yolov1') ? 'detection' : 'region');
    if (head.type === 'detection') {
      expect(head).toMatchObject({ side: 7, num: name === 'yolov1' ? 3 : 2, classes: 20, coords: 4, sqrt: true });
      expect(head.inputs).toBe(7 * 7 * ((1 + 4) * head.num + 20));
    } else {
      const grid = { yolov2: 19, 'yolov2-voc': 13, yolo9000: 17 }[name] ?? 13;
      expect([head.input.h, head.input.w]).toEqual([grid, grid]);
    }
    expect(withParams).toBeGreaterThan(8);
  });
});
