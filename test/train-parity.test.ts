// The exported ONNX of a trained detector computes what its tfjs model computes (ORT vs tfjs predict),
// for freshly exported models and for every model folder trained by pinhole that ships in models/.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/train/backend.ts';
import { validateManifest } from '../src/manifest.ts';
import { exportAndEvaluate, loadTfjsModel, buildModel, TFJS_WEIGHTS, type YoloState, type YoloTrainOptions } from '../src/train/yolo/trainers.ts';
import { Rng } from '../src/train/engine/rng.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
beforeAll(async () => {
  await initBackend();
});

async function parity(dir: string): Promise<number> {
  const m = validateManifest(JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')));
  const model = await loadTfjsModel(dir);
  const { width: W, height: H } = m.input;
  const rng = new Rng(11);
  const nchw = Float32Array.from({ length: 3 * H * W }, () => rng.next());
  const nhwc = new Float32Array(nchw.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < H * W; i++) nhwc[i * 3 + c] = nchw[c * H * W + i];
  const s = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  try {
    const out = await s.run({ [m.onnx!.input!]: new ort.Tensor('float32', nchw, [1, 3, H, W]) });
    const got = out[m.onnx!.outputs![0]].data as Float32Array;
    let want = (model.predict(tf.tensor4d(nhwc, [1, H, W, 3])) as tf.Tensor);
    if (want.rank === 4) want = tf.transpose(want, [0, 3, 1, 2]);
    const w = want.dataSync();
    expect(got.length).toBe(w.length);
    let max = 0;
    for (let i = 0; i < w.length; i++) max = Math.max(max, Math.abs(got[i] - w[i]));
    return max;
  } finally {
    await s.release();
  }
}

describe('tfjs -> ONNX parity of trained detectors', () => {
  const names = Array.from({ length: 16 }, (_, i) => `class${i}`);
  const fresh: [string, YoloState][] = [
    ['yolov1', { kind: 'yolov1', names, detMap: [], size: 224, side: 7, num: 2 }],
    ['yolov2', { kind: 'yolov2', names, detMap: [], size: 224, num: 5, anchors: [1, 1, 2, 2, 3, 3, 4, 4, 5, 5] }],
  ];
  for (const [kind, state] of fresh) {
    it(`${kind}: a freshly exported folder matches tfjs within 1e-4`, async () => {
      const out = path.join(mkdtempSync(path.join(tmpdir(), 'pinhole-parity-')), `${kind}-fresh`);
      dirs.push(path.dirname(out));
      const model = buildModel(state, 4);
      // move BatchNorm statistics off their identity initial values so folding them is exercised
      model.setWeights(model.weights.map((v, i) => {
        const w = v.read();
        return /moving_variance|gamma/.test(v.originalName) ? tf.mul(w, tf.randomUniform(w.shape, 0.5, 1.5, 'float32', i))
          : /moving_mean|beta/.test(v.originalName) ? tf.add(w, tf.randomUniform(w.shape, -0.2, 0.2, 'float32', i)) : w;
      }));
      const o = { data: 'synth:1:1', seed: 4, out, log: () => {} } as unknown as YoloTrainOptions;
      await exportAndEvaluate(state, model, o, { step: 0, seen: 0 });
      expect(existsSync(path.join(out, TFJS_WEIGHTS.bin))).toBe(true);
      expect(await parity(out)).toBeLessThan(1e-4);
    });
  }

  const shipped = existsSync('models') ? readdirSync('models').filter((d) => existsSync(path.join('models', d, TFJS_WEIGHTS.json))) : [];
  for (const d of shipped) {
    it(`shipped models/${d}: ORT output equals tfjs within 1e-4`, async () => {
      const m = JSON.parse(readFileSync(path.join('models', d, 'model.json'), 'utf8'));
      expect(m.source).toBe('pinhole-train');
      expect(await parity(path.join('models', d))).toBeLessThan(1e-4);
    });
  }
});
