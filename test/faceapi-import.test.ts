// The face-api importer on good and bad input: face-api's own files import (and the graph's shapes follow
// face-api's VALID first convolution and SAME pools at every supported size); a truncated .bin, a manifest
// with a missing or mis-shaped tensor, and another face-api network (unknown architecture) are refused
// with one clear error and leave no folder (nor its temporary) behind. Also `pinhole faceapi`'s exit codes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest.ts';
import { FaceApiError, gridSize, importFaceApi, loadWeights, recogniseArch } from '../src/onnx/faceapi/index.ts';
import { decodeModel } from '../src/onnx/graph.ts';
import { FACEAPI_MODEL_DIR } from './helpers/faceapi.ts';
import { tempDirs } from './helpers/tmp.ts';

const tmp = tempDirs('pinhole-faceapi-import-');
const MANIFEST = 'tiny_face_detector_model-weights_manifest.json';
const BIN = 'tiny_face_detector_model.bin';

interface Spec { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }

/** A copy of the detector's files, optionally edited: returns the manifest path. */
function copyModel(edit?: (groups: Array<{ paths: string[]; weights: Spec[] }>, bin: Buffer) => Buffer): string {
  const dir = tmp();
  const groups = JSON.parse(readFileSync(join(FACEAPI_MODEL_DIR, MANIFEST), 'utf8'));
  let bin: Buffer = readFileSync(join(FACEAPI_MODEL_DIR, BIN));
  if (edit) bin = edit(groups, bin);
  writeFileSync(join(dir, MANIFEST), JSON.stringify(groups));
  writeFileSync(join(dir, BIN), bin);
  return join(dir, MANIFEST);
}

const size = (w: Spec) => w.shape.reduce((a, b) => a * b, 1) * (w.quantization ? 1 : 4);

/** The detector's manifest and .bin with one tensor (and its bytes) removed. */
function without(name: string): string {
  return copyModel((groups, bin) => {
    let off = 0;
    const ws = groups[0].weights;
    for (const [i, w] of ws.entries()) {
      if (w.name === name) {
        ws.splice(i, 1);
        return Buffer.concat([bin.subarray(0, off), bin.subarray(off + size(w))]);
      }
      off += size(w);
    }
    throw new Error(`no ${name}`);
  });
}

/** Refused with a FaceApiError matching `msg`, and nothing is left in the output's parent folder. */
async function refused(manifest: string, msg: RegExp): Promise<void> {
  const parent = tmp();
  const out = join(parent, 'face');
  const err = await importFaceApi({ manifest, out }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FaceApiError);
  expect((err as Error).message).toMatch(msg);
  expect((err as Error).message).not.toContain('\n');
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(parent)).toEqual([]);
}

describe('face-api importer', () => {
  it("imports face-api's Tiny Face Detector into a valid folder with its preprocessing and decoding", async () => {
    const out = join(tmp(), 'tiny-face');
    const r = await importFaceApi({ manifest: FACEAPI_MODEL_DIR, out, size: 320 });
    expect(r.title).toBe('Tiny Face Detector');
    const m = validateManifest(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
    expect(m).toMatchObject({
      name: 'tiny-face', kind: 'yolov2', input: { width: 320, height: 320, channels: 3 }, preprocess: 'pad-square', pad: 'top-left',
      pad_value: 0, resample: 'bilinear-tf', mean: [117.001, 114.697, 97.404], std: [255, 255, 255], names: ['face'], num: 5,
      class_scores: false, thresh: 0.5, nms: 0.4, source: 'face-api', origin: { licence: 'MIT' },
    });
    expect((m as { origin: { package: string } }).origin.package).toMatch(/^@vladmandic\/face-api@/);
    const g = decodeModel(readFileSync(join(out, 'model.onnx'))).graph!;
    const dims = g.output![0].type!.tensorType!.shape!.dim!.map((d) => (d.dimValue ? Number(d.dimValue) : d.dimParam));
    // 320 -> VALID 3x3: 318 -> pools 159, 80, 40, 20, 10 -> stride-1 pool: 10
    expect(dims).toEqual(['N', 25, 10, 10]);
    expect(g.node!.filter((n) => n.opType === 'MaxPool')).toHaveLength(6);
  });

  it('dequantizes as tf.io.decodeWeights: q * scale + min, stored as float32', () => {
    const w = loadWeights(join(FACEAPI_MODEL_DIR, MANIFEST));
    const spec = JSON.parse(readFileSync(join(FACEAPI_MODEL_DIR, MANIFEST), 'utf8'))[0].weights[0];
    const bin = readFileSync(join(FACEAPI_MODEL_DIR, BIN));
    const t = w.tensors.get('conv0/filters')!;
    expect(t.shape).toEqual([3, 3, 3, 16]);
    for (const i of [0, 1, 100, 431]) expect(t.data[i]).toBe(Math.fround(bin[i] * spec.quantization.scale + spec.quantization.min));
    expect(gridSize(recogniseArch(w.tensors), 416)).toBe(13);
    expect(gridSize(recogniseArch(w.tensors), 160)).toBe(5);
    expect(gridSize(recogniseArch(w.tensors), 608)).toBe(19);
  });

  it('refuses a truncated .bin', async () => {
    await refused(copyModel((_, bin) => bin.subarray(0, bin.length - 100)), /tiny_face_detector_model\.bin holds 193221 bytes, but its weights need 193321 \(truncated\?\)/);
    await refused(copyModel((_, bin) => Buffer.concat([bin, Buffer.alloc(4)])), /holds 193325 bytes, but its weights need 193321/);
  });

  it('refuses a manifest with a missing tensor', async () => {
    await refused(without('conv3/bias'), /the manifest has no tensor conv3\/bias \(expected shape \[128\]\)/);
    await refused(without('conv8/filters'), /unknown architecture/);
  });

  it('refuses a mis-shaped tensor', async () => {
    const swapped = copyModel((groups, bin) => {
      groups[0].weights.find((w) => w.name === 'conv2/pointwise_filter')!.shape = [1, 1, 64, 32];
      return bin;
    });
    await refused(swapped, /conv2\/pointwise_filter has shape \[1,1,64,32\], expected \[1,1,32,64\]/);
  });

  it('refuses an unknown architecture (face-api\'s other networks) and a folder without a manifest', async () => {
    await refused(join(FACEAPI_MODEL_DIR, 'face_landmark_68_tiny_model-weights_manifest.json'), /unknown architecture: expected face-api's TinyYolov2/);
    const ssd = tmp();
    for (const f of ['ssd_mobilenetv1_model-weights_manifest.json', 'ssd_mobilenetv1_model.bin']) copyFileSync(join(FACEAPI_MODEL_DIR, f), join(ssd, f));
    await refused(ssd, /unknown architecture/);
    await refused(tmp(), /no \*weights_manifest\.json in this folder/);
    await refused(copyModel((groups, bin) => {
      groups[0].weights.push({ name: 'conv9/bias', shape: [0], dtype: 'float32' });
      return bin;
    }), /unexpected tensor for this architecture: conv9\/bias/);
  });

  it('pinhole faceapi: exit 0 and one line; 2 for bad usage; 1 with one line for a refused import', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['bin/pinhole.js', 'faceapi', ...args], { encoding: 'utf8', cwd: process.cwd() });
    const out = join(tmp(), 'm');
    const ok = run(FACEAPI_MODEL_DIR, '--out', out, '--size', '160');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^wrote .*: Tiny Face Detector "m", input 160x160/);
    expect(run(FACEAPI_MODEL_DIR).status).toBe(2);
    const bad = run(FACEAPI_MODEL_DIR, '--out', join(tmp(), 'x'), '--size', '100');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^pinhole: --size must be a multiple of 32, got 100\n$/);
    const trunc = run(copyModel((_, bin) => bin.subarray(0, 1000)), '--out', join(tmp(), 'y'));
    expect(trunc.status).toBe(1);
    expect(trunc.stderr).toMatch(/^pinhole: tiny_face_detector_model-weights_manifest\.json: .*truncated\?\)\n$/);
  }, 60_000);
});
