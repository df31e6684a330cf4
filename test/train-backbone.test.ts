import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from './helpers/tmp.ts';
import { initBackend, tf } from '../src/train/backend.ts';
import { installSwappedConvFilterGrad } from '../src/train/engine/fast-grads.ts';
import { stepsPerEpoch } from '../src/train/engine/loop.ts';
import { buildClassifier, classifierAccuracy, loadBackbone, trainBackbone } from '../src/train/yolo/backbone.ts';
import { buildYoloV1, buildYoloV2 } from '../src/train/yolo/models.ts';
import { defaultJitter } from '../src/train/yolo/trainers.ts';

const tmp = tempDirs('pinhole-backbone-');

beforeAll(async () => {
  expect(await initBackend()).toBe('wasm');
  installSwappedConvFilterGrad();
});

const same = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('backbone pretraining (pinhole train backbone)', () => {
  it('an epoch of classification-only training is one pass over the classification set', () => {
    expect(stepsPerEpoch({ batch: 0, detSize: 0, clsBatch: 8, clsSize: 100 })).toBe(12);
    expect(stepsPerEpoch({ batch: 4, detSize: 100, clsBatch: 8, clsSize: 1000 })).toBe(25);
    expect(() => stepsPerEpoch({ batch: 0, detSize: 0 })).toThrow(/detection or classification/);
  });

  it('learns the classes of a tiny set, then initialises YOLOv2 and YOLOv1 backbones from its checkpoint', async () => {
    const out = tmp();
    const lines: string[] = [];
    // 48 images of 16 classes, 90 steps: accuracy far above chance (1/16) shows the loop, loss and
    // labels fit together (measured 0.35 with BatchNorm's moving statistics still catching up)
    await trainBackbone({
      data: 'synthcls:4:48:64', val: 'synthcls:4:48:64', epochs: 30, batch: 16, sizes: [64], lr: 4e-3, burnIn: 0, seed: 2,
      jitter: 0, out, ckptEvery: 1000, inProcess: true, log: (l) => lines.push(l),
    });
    const acc = Number(/top-1 accuracy on synthcls:4:48:64 at 64px: ([\d.]+)/.exec(lines.join('\n'))![1]);
    expect(acc).toBeGreaterThan(0.25);

    const v2 = buildYoloV2({ num: 2, classes: 3, seed: 9 });
    const v1 = buildYoloV1({ size: 64, side: 2, num: 1, classes: 3, seed: 9 });
    const cls = buildClassifier(16, 2);
    const { loadCheckpoint, findCheckpoint, restoreWeights } = await import('../src/train/engine/checkpoint.ts');
    const ck = await loadCheckpoint((await findCheckpoint(out))!);
    restoreWeights(cls, ck.meta, ck.weights);
    expect(await classifierAccuracy(cls, 'synthcls:4:48:64', 64)).toBeCloseTo(acc, 4);

    const pre = cls.getLayer('conv12').getWeights()[0];
    for (const m of [v2, v1]) {
      expect(same(m.getLayer('conv12').getWeights()[0], pre)).toBeGreaterThan(1e-3);
      const r = await loadBackbone(m, out);
      // 12 convolutions (kernel) + 12 batch norms (gamma, beta, moving mean, moving variance)
      expect(r.copied).toBe(12 * 5);
      expect(same(m.getLayer('conv12').getWeights()[0], pre)).toBe(0);
      expect(same(m.getLayer('bn12').getWeights()[2], cls.getLayer('bn12').getWeights()[2])).toBe(0);
    }
    // the detection heads keep their own initialisation
    expect(v2.getLayer('region').getWeights()[0].shape[3]).toBe(2 * 8);
  }, 240_000);

  it('takes YOLOv1\'s convolutional layers from a YOLOv2 run, and refuses other checkpoints', async () => {
    const out = tmp();
    const { saveCheckpoint } = await import('../src/train/engine/checkpoint.ts');
    const m = buildYoloV2({ num: 1, classes: 1, seed: 1 });
    const opt = tf.train.adam(1e-3);
    await saveCheckpoint(out, { trainer: 'yolov2', step: 1, epoch: 0, stepInEpoch: 1, seen: 1, seed: 1, options: {}, state: {} }, m, opt);
    const v1 = buildYoloV1({ size: 64, side: 2, num: 1, classes: 3, seed: 9 });
    expect(same(v1.getLayer('conv12').getWeights()[0], m.getLayer('conv12').getWeights()[0])).toBeGreaterThan(1e-3);
    const r = await loadBackbone(v1, out);
    expect(r).toMatchObject({ copied: 12 * 5, trainer: 'yolov2', step: 1 });
    expect(same(v1.getLayer('conv12').getWeights()[0], m.getLayer('conv12').getWeights()[0])).toBe(0);
    // YOLOv2's passthrough 1x1 (conv13) has another shape than YOLOv1's reduction: not copied
    expect(v1.getLayer('conv13').getWeights()[0].shape).not.toEqual(m.getLayer('conv13').getWeights()[0].shape);
    const other = tmp();
    await saveCheckpoint(other, { trainer: 'yolo9000', step: 1, epoch: 0, stepInEpoch: 1, seen: 1, seed: 1, options: {}, state: {} }, m, opt);
    await expect(loadBackbone(buildYoloV2({ num: 1, classes: 1, seed: 2 }), other)).rejects.toThrow(/a yolo9000 checkpoint, not a backbone or yolov2 run/);
    await expect(loadBackbone(m, path.join(out, 'missing'))).rejects.toThrow(/no checkpoint/);
  });

  it('keeps aspect jitter small on the generated scenes, whose classes differ by aspect ratio', () => {
    expect(defaultJitter('synth:1:100')).toBe(0.05);
    expect(defaultJitter('synth9k:1:100')).toBe(0.05);
    expect(defaultJitter('voc:/data/VOC2007')).toBe(0.2);
  });
});
