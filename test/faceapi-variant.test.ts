// face-api's other separable TinyYolov2, the older face model (TinyYolov2(withSeparableConvs = true):
// conv0 separable too, conv6 and conv7 of 1024 channels), whose weights are not on the registry: the
// importer builds it from a manifest of seeded random uint8-quantized weights, and its output must equal
// face-api's own forward pass of the same files (tfjs wasm) on the same picture.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { convertFaceApi } from '../src/onnx/faceapi/index.ts';
import { pixelLayout, preprocess } from '../src/runtime/preprocess.ts';
import { loadFaceApi } from './helpers/faceapi.ts';
import { tempDirs } from './helpers/tmp.ts';

const tmp = tempDirs('pinhole-faceapi-variant-');
const SIZES = [3, 16, 32, 64, 128, 256, 512, 1024, 1024];

/** face-api's tiny_yolov2_separable_conv_model layout with uint8 weights of a He-like scale. */
function writeVariant(dir: string): string {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
  const weights: Array<{ name: string; shape: number[]; dtype: 'float32'; quantization: { dtype: 'uint8'; min: number; scale: number } }> = [];
  const bytes: number[] = [];
  const add = (name: string, shape: number[], amp: number) => {
    weights.push({ name, shape, dtype: 'float32', quantization: { dtype: 'uint8', min: -amp, scale: (2 * amp) / 255 } });
    for (let i = shape.reduce((a, b) => a * b, 1); i > 0; i--) bytes.push(rnd());
  };
  for (let k = 0; k < 8; k++) {
    const cin = SIZES[k], cout = SIZES[k + 1];
    add(`conv${k}/depthwise_filter`, [3, 3, cin, 1], Math.sqrt(3 / 9));
    add(`conv${k}/pointwise_filter`, [1, 1, cin, cout], Math.sqrt(6 / cin));
    add(`conv${k}/bias`, [cout], 0.1);
  }
  add('conv8/filters', [1, 1, 1024, 25], Math.sqrt(3 / 1024));
  add('conv8/bias', [25], 0.5);
  const file = join(dir, 'tiny_yolov2_separable_conv_model-weights_manifest.json');
  writeFileSync(file, JSON.stringify([{ paths: ['tiny_yolov2_separable_conv_model.bin'], weights }]));
  writeFileSync(join(dir, 'tiny_yolov2_separable_conv_model.bin'), Uint8Array.from(bytes));
  return file;
}

it("face-api's separable TinyYolov2 (separable conv0, conv6, conv7): raw output equals face-api's forward", async () => {
  const dir = tmp();
  const manifest = writeVariant(dir);
  const size = 224;
  const { onnx, manifest: m, title } = await convertFaceApi({ manifest, name: 'v', size });
  expect(title).toBe('TinyYolov2 (separable convolutions)');

  // a 300x200 picture with structure: gradients and a bright square
  const raw = Buffer.alloc(300 * 200 * 3);
  for (let y = 0; y < 200; y++) for (let x = 0; x < 300; x++) {
    const inSq = x > 120 && x < 180 && y > 60 && y < 130;
    raw.set(inSq ? [250, 240, 230] : [x % 256, (y * 2) % 256, (x + y) % 256], (y * 300 + x) * 3);
  }
  const png = await sharp(raw, { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
  const pre = await preprocess(png, m.input, pixelLayout(m));
  const session = await ort.InferenceSession.create(onnx);
  const out = (await session.run({ images: new ort.Tensor('float32', pre.data, [1, 3, size, size]) })).logits;
  await session.release();
  const g = size / 32;
  expect(out.dims).toEqual([1, 25, g, g]);

  const fa = await loadFaceApi();
  const net = new fa.api.TinyYolov2(true);
  await net.loadFromDisk(dir);
  const t = fa.tf.tensor3d(raw, [200, 300, 3], 'int32');
  const y = await net.forward(t, size);
  const ref = y.dataSync() as Float32Array;
  y.dispose();
  t.dispose();
  net.dispose();
  expect(ref.length).toBe(25 * g * g);
  const got = out.data as Float32Array;
  let maxAbs = 0, maxDiff = 0;
  for (let ch = 0; ch < 25; ch++) for (let i = 0; i < g * g; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ref[i * 25 + ch]));
    maxDiff = Math.max(maxDiff, Math.abs(got[ch * g * g + i] - ref[i * 25 + ch]));
  }
  console.log(`separable TinyYolov2: max abs output ${maxAbs.toFixed(3)}, max diff ${maxDiff.toExponential(2)}`);
  expect(maxAbs).toBeGreaterThan(0.5); // the random net does not collapse to nothing
  expect(maxDiff / maxAbs).toBeLessThan(1e-4);
}, 60_000);
