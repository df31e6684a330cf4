// Scoring a detector over a dataset: evaluateDetector with hand-made detectors, and `pinhole eval`
// end to end through the serving runtime with a model whose output is known in advance.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../src/onnx/graph.ts';
import { datasetClassOf, evaluateDetector, type PredictedBox } from '../src/train/data/evaluate.ts';
import { openDataset } from '../src/train/data/open.ts';
import { writeModel } from './runtime-fixtures.ts';

const run = promisify(execFile);

describe('evaluateDetector', () => {
  it('a detector that returns the ground truth scores 1; the encoded file is the dataset\'s', async () => {
    const ds = await openDataset('synth:31:12:96');
    let files = 0;
    const r = await evaluateDetector(ds, async (bytes, sample) => {
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 96, 96]);
      files++;
      return sample.boxes.map((b, k) => ({ class: ds.names[b.classId], score: 1 - k * 0.01, box: { x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 } }));
    });
    expect(files).toBe(12);
    expect(r.images).toBe(12);
    expect(r.objects).toBeGreaterThan(12);
    expect(r.metrics.map50).toBe(1);
    expect(r.metrics.map).toBeCloseTo(1, 9);
  });

  it('boxes shrunk to IoU .64 count at .5 to .6 only: COCO mAP = 3/10', async () => {
    // each box shrunk to 80% of its width and height about its centre: IoU = .64, a hit at
    // thresholds .50 .55 .60 only -> AP 1 at 3 of the 10 thresholds, 0 elsewhere
    const ds = await openDataset('synth:32:8:96');
    const r = await evaluateDetector(ds, async (_b, s) => s.boxes.map((b) => {
      const cx = (b.x1 + b.x2) / 2, cy = (b.y1 + b.y2) / 2, w = (b.x2 - b.x1) * 0.4, h = (b.y2 - b.y1) * 0.4;
      return { class: ds.names[b.classId], score: 0.9, box: { x1: cx - w, y1: cy - h, x2: cx + w, y2: cy + h } };
    }), { concurrency: 1 });
    expect(r.metrics.map50).toBe(1);
    expect(r.metrics.map).toBeCloseTo(0.3, 9);
  });

  it('a detector that finds nothing scores 0; limit stops early', async () => {
    const ds = await openDataset('synth:33:50:64');
    let calls = 0;
    const r = await evaluateDetector(ds, async () => { calls++; return []; }, { limit: 5 });
    expect(calls).toBe(5);
    expect(r.images).toBe(5);
    expect(r.metrics.map50).toBe(0);
  });

  it('maps predictions through the WordTree path onto coarse dataset classes', async () => {
    const ds = await openDataset('synth9k:34:10:96');
    const fine = await openDataset('synth:34:10:96');
    // the detector answers in fine names with a path; the set is labelled with the coarse names
    const r = await evaluateDetector(ds, async (_b, s) => {
      const f = await fine.get(Number(s.id.split('-').pop()));
      return f.boxes.map((b) => {
        const name = fine.names[b.classId];
        const coarse = ds.names[s.boxes.find((x) => x.x1 === b.x1 && x.y1 === b.y1)!.classId];
        return { class: name, path: ['shape', coarse, name], score: 0.5, box: { x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 } };
      });
    });
    expect(r.metrics.map50).toBe(1);
    const idx = new Map([['triangle', 0]]);
    expect(datasetClassOf({ class: 'right triangle', path: ['shape', 'polygon', 'triangle', 'right triangle'] }, idx)).toBe(0);
    expect(datasetClassOf({ class: 'right triangle' }, idx)).toBeUndefined();
  });

  it('leaves out dataset classes the model does not know, and refuses when none are shared', async () => {
    const ds = await openDataset('synth:35:10:64');
    const perfect = async (_b: Uint8Array, s: Awaited<ReturnType<typeof ds.get>>): Promise<PredictedBox[]> =>
      s.boxes.map((b) => ({ class: ds.names[b.classId], score: 0.5, box: { x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 } }));
    const r = await evaluateDetector(ds, perfect, { modelNames: ['circle', 'square', 'star'] });
    expect(r.unknownClasses.length).toBe(13);
    expect(r.metrics.perClass.every((c) => ['circle', 'square', 'star'].includes(c.name))).toBe(true);
    await expect(evaluateDetector(ds, perfect, { modelNames: ['dog', 'cat'] })).rejects.toThrow(/share no name/);
  });
});

// A yolov2 model folder whose output ignores the image: one anchor (2x2 cells) of an 8x8 grid at
// 64x64 input, objectness logit +10 at cell (3, 3) and -10 elsewhere, class logits (10, -10).
// Decoded (darknet region): centre ((3 + sigmoid(0)) / 8, same) = 28 px, size 2 * e^0 / 8 * 64 = 16
// px -> box [20, 20, 36, 36], class "circle", score ~ sigmoid(10) = .99995.
function constantRegionModel(): Uint8Array {
  const K = 5 + 2;
  const out = new Float32Array(K * 8 * 8);
  const at = (c: number, y: number, x: number) => (c * 8 + y) * 8 + x;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) out[at(4, y, x)] = -10;
  out[at(4, 3, 3)] = 10;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) { out[at(5, y, x)] = 10; out[at(6, y, x)] = -10; }
  const g = new GraphBuilder('constant-region');
  const x = g.input('image', ['N', 3, 64, 64]);
  const mean = g.node('ReduceMean', [x], { axes: attr.ints([1, 2, 3]), keepdims: attr.i(1) });
  const zero = g.node('Mul', [mean, g.scalar('zero', 0)]);
  const y = g.node('Add', [zero, g.initializer('logits', out, [1, K, 8, 8])]);
  g.output(y, 'region', ['N', K, 8, 8]);
  return g.toModel();
}

describe('pinhole eval (CLI, through the runtime)', () => {
  let root: string;
  let modelDir: string;
  let data: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'pinhole-eval-'));
    modelDir = writeModel(root, 'constant', constantRegionModel(), {
      name: 'constant', kind: 'yolov2', input: { width: 64, height: 64, channels: 3, layout: 'NCHW' }, preprocess: 'letterbox',
      names: ['circle', 'square'], source: 'pinhole-train', num: 1, anchors: [2, 2], coords: 4, softmax: true,
    });
    // a YOLO folder: a.png has a circle exactly where the model looks; b.png the same circle and a
    // square the model never finds. circle: 2 hits of 2 -> AP 1 (VOC and COCO); square: AP 0.
    data = join(root, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'classes.txt'), 'circle\nsquare\n');
    const img = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 120, b: 150 } } }).png().toBuffer();
    await writeFile(join(data, 'a.png'), img);
    await writeFile(join(data, 'b.png'), img);
    await writeFile(join(data, 'a.txt'), '0 0.4375 0.4375 0.25 0.25\n');
    await writeFile(join(data, 'b.txt'), '0 0.4375 0.4375 0.25 0.25\n1 0.8 0.8 0.2 0.2\n');
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => run(process.execPath, ['bin/pinhole.js', 'eval', ...args], { cwd: process.cwd() })
    .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

  it('--json prints the SPEC object with hand-computed values', async () => {
    const r = await cli(modelDir, '--data', data, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(['map', 'map50', 'per_class']);
    expect(j.per_class).toEqual({ circle: 1, square: 0 });
    expect(j.map50).toBe(0.5);
    expect(j.map).toBeCloseTo(0.5, 6);
  }, 60_000);

  it('prints a human summary', async () => {
    const r = await cli(modelDir, '--data', `yolo:${data}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 images, 3 objects/);
    expect(r.stdout).toMatch(/mAP@0\.5 \(VOC, all-point\)\s+0\.500/);
    expect(r.stdout).toMatch(/circle\s+1\.000/);
  }, 60_000);

  it('bad usage exits 2 with one line; failures exit 1', async () => {
    const bad = await cli(modelDir, '--data', 'synth:x:3');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/SEED must be an integer/);
    const missing = await cli(modelDir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--data/);
    const noModel = await cli(join(root, 'nope'), '--data', 'synth:1:2');
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/no model folder/);
    const noShared = await cli(modelDir, '--data', 'synth9k:1:2:64');
    expect(noShared.code).toBe(1);
    expect(noShared.stderr).toMatch(/share no name/);
  }, 60_000);
});
