// writeModelFolder: a tfjs model becomes a servable folder (model.onnx + model.json), all or nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '../src/train/backend.ts';
import { leakyRelu, reorg } from '../src/train/layers/index.ts';
import { writeModelFolder } from '../src/onnx/tfjs/index.ts';
import { validateManifest, type YoloV2Manifest } from '../src/manifest.ts';

const L = tf.layers;
type ST = tf.SymbolicTensor;
let root: string;

function tinyYolo(): tf.LayersModel {
  const x = tf.input({ shape: [64, 64, 3] });
  let t = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(x) as ST;
  t = L.batchNormalization().apply(t) as ST;
  t = L.activation({ activation: leakyRelu }).apply(t) as ST;
  t = L.maxPooling2d({ poolSize: 2 }).apply(t) as ST;
  const pass = reorg().apply(t) as ST;
  t = L.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: leakyRelu }).apply(t) as ST;
  t = L.maxPooling2d({ poolSize: 2 }).apply(t) as ST;
  t = L.concatenate().apply([pass, t]) as ST;
  t = L.conv2d({ filters: 2 * (5 + 3), kernelSize: 1 }).apply(t) as ST;
  return tf.model({ inputs: x, outputs: t });
}

const manifest = (over: Partial<YoloV2Manifest> = {}): YoloV2Manifest => ({
  name: 'tiny', kind: 'yolov2', input: { width: 64, height: 64, channels: 3, layout: 'NCHW' }, preprocess: 'letterbox',
  names: ['a', 'b', 'c'], source: 'pinhole-train', num: 2, anchors: [1, 1, 2, 3], coords: 4, softmax: true, ...over,
});

beforeAll(async () => {
  await initBackend();
  root = await mkdtemp(path.join(tmpdir(), 'pinhole-folder-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeModelFolder', () => {
  it('writes model.onnx + model.json that ORT serves with the same output as tfjs', async () => {
    const model = tinyYolo();
    const dir = path.join(root, 'nested', 'tiny');
    const res = await writeModelFolder(dir, model, manifest(), { inputNames: ['images'], files: { 'README.txt': 'tiny test model\n' } });
    expect((await readdir(dir)).sort()).toEqual(['README.txt', 'model.json', 'model.onnx']);
    const m = validateManifest(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')));
    expect(m.onnx).toEqual({ input: 'images', outputs: res.onnx.outputs.map((o) => o.name) });
    const s = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 3);
    const out = await s.run({ images: new ort.Tensor('float32', Float32Array.from(tf.transpose(x, [0, 3, 1, 2]).dataSync()), [1, 3, 64, 64]) });
    const want = tf.transpose(model.predict(x) as tf.Tensor, [0, 3, 1, 2]).dataSync();
    const got = out[m.onnx!.outputs![0]].data as Float32Array;
    expect(out[m.onnx!.outputs![0]].dims).toEqual([1, 16, 16, 16]);
    let d = 0;
    for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
    expect(d).toBeLessThan(1e-4);
    await s.release();

    // re-export into the existing folder replaces the model and keeps other files
    await writeModelFolder(dir, model, manifest({ description: 'second' }), { inputNames: ['images'] });
    expect(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')).description).toBe('second');
    expect((await readdir(dir)).sort()).toEqual(['README.txt', 'model.json', 'model.onnx']);
  });

  it('a manifest that does not fit the model leaves no folder behind', async () => {
    const model = tinyYolo();
    const dir = path.join(root, 'bad');
    await expect(writeModelFolder(dir, model, manifest({ input: { width: 64, height: 64, channels: 1, layout: 'NCHW' } })))
      .rejects.toThrow(/input.channels is 1 but the model's input has 3/);
    await expect(writeModelFolder(dir, model, manifest({ anchors: [1, 2] }))).rejects.toThrow(/anchors/);
    await expect(writeModelFolder(dir, model, manifest({ onnx: { input: 'nope' } }))).rejects.toThrow(/"nope" is not an input/);
    expect(await readdir(root)).not.toContain('bad');
    expect((await readdir(root)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
