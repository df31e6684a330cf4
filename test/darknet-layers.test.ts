// Every layer type and option the importer supports, checked against the live darknet oracle on small
// hand-written cfgs: grouped/strided/padded convolutions, all darknet activations, folded batch norm,
// maxpool paddings, route by absolute index and across flat layers, reorg both ways,
// local, connected (plain, batch-normalised, transposed), dropout, softmax with groups and temperature,
// avgpool, and both weights header versions. darknet reads every weights file itself, so a layout or
// semantics mistake on our side shows up as a mismatch with its `pre` tensor.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { paramLayout, parseCfg, type Layer } from '../src/onnx/darknet/cfg.ts';
import { darknetToOnnx } from '../src/onnx/darknet/import.ts';
import { readWeights } from '../src/onnx/darknet/weights.ts';
import { compareTensors, darknetData, oracleWeights, runOracle, writeRandomWeights } from './helpers/oracle.ts';

const work = mkdtempSync(join(tmpdir(), 'pinhole-darknet-layers-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cfgFile = (name: string, text: string): string => {
  const p = join(work, `${name}.cfg`);
  writeFileSync(p, text);
  return p;
};

const section = (type: string, opts: Record<string, string | number> = {}): string =>
  `[${type}]\n${Object.entries(opts).map(([k, v]) => `${k}=${v}`).join('\n')}\n\n`;

const fanIn = (l: Layer): number => {
  switch (l.type) {
    case 'convolutional': return (l.input.c / l.groups) * l.size * l.size;
    case 'local': return l.input.c * l.size * l.size;
    case 'connected': return l.inputs;
    default: return 1;
  }
};

function ourWeights(cfg: string, text: string, version: [number, number, number], seed: number): string {
  const net = parseCfg(text, cfg);
  const layout = net.layers.map((l) => paramLayout(l).map((p) => ({ ...p, fanIn: fanIn(l) })));
  const path = cfg.replace(/\.cfg$/, `.v${version.join('.')}.s${seed}.weights`);
  writeRandomWeights(path, layout, { version, seed });
  return path;
}

async function ortOutput(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    const out = await s.run({ images: new ort.Tensor('float32', input, dims) });
    return out.logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Converts cfg+weights with Pinhole, runs darknet on the same input, and compares the head inputs. */
async function expectMatchesDarknet(cfg: string, weights: string, opts: { inputF32?: Float32Array; image?: string } = {}) {
  const r = await runOracle({ cfg, weights, thresh: 0.2, ...opts });
  const net = parseCfg(readFileSync(cfg, 'utf8'), cfg);
  const onnx = darknetToOnnx(net, readWeights(weights, net));
  const { c, h, w } = r.json.net;
  const y = await ortOutput(onnx.bytes, r.input, [1, c, h, w]);
  const cmp = compareTensors(y, r.pre);
  const head = net.layers[net.layers.length - 1];
  if (head.type === 'region') expect(r.json.pre.shape).toEqual([head.input.c, head.input.h, head.input.w]);
  return { r, y, cmp };
}

const ACTS = ['ramp', 'loggy', 'hardtan', 'lhtan', 'plse', 'relie'];

// 64x64 -> region 8x8, num=2, classes=3
const REGION_MIX =
  section('net', { width: 64, height: 64, channels: 3 }) +
  section('convolutional', { batch_normalize: 1, filters: 8, size: 3, stride: 1, pad: 1, activation: 'leaky' }) + // 0
  section('maxpool', { size: 3, stride: 2 }) + // 1: default padding size-1=2 -> 32
  section('convolutional', { batch_normalize: 1, filters: 16, size: 3, stride: 1, padding: 1, groups: 2, activation: 'relu' }) + // 2
  section('convolutional', { filters: 16, size: 1, stride: 1, activation: 'tanh' }) + // 3
  section('maxpool', { size: 2, stride: 1 }) + // 4: asymmetric padding, stays 32
  section('convolutional', { filters: 32, size: 3, stride: 2, pad: 1, activation: 'logistic' }) + // 5: 16x16x32
  section('route', { layers: 4 }) + // 6: absolute index, 32x32x16
  section('reorg', { stride: 2 }) + // 7: 16x16x64
  section('route', { layers: '-1,5' }) + // 8: 16x16x96
  section('convolutional', { filters: 16, size: 3, pad: 1, activation: 'selu' }) + // 9
  section('reorg', { stride: 2, reverse: 1 }) + // 10: 32x32x4
  section('convolutional', { filters: 8, size: 5, stride: 2, pad: 1, activation: 'elu' }) + // 11: 16x16x8
  ACTS.map((a) => section('convolutional', { filters: 8, size: 3, pad: 1, activation: a })).join('') + // 12..17
  section('convolutional', { filters: 8, size: 3, pad: 1 }) + // 18: darknet's default activation (logistic)
  section('maxpool', { size: 3, stride: 2, padding: 1 }) + // 19: 8x8
  section('convolutional', { filters: 16, size: 1, stride: 1, activation: 'linear' }) + // 20
  section('region', { anchors: '1,1.5, 2.5,2', classes: 3, coords: 4, num: 2, softmax: 1 });

// 24x24 -> detection side 2: local (padded and strided), dropout, connected with batch norm, softmax
const DETECTION_MIX = (withSoftmax: boolean) =>
  section('net', { width: 24, height: 24, channels: 3 }) +
  section('convolutional', { batch_normalize: 1, filters: 8, size: 3, stride: 1, pad: 1, activation: 'leaky' }) +
  section('maxpool', { size: 2, stride: 2 }) + // 12x12
  section('local', { filters: 6, size: 3, stride: 1, pad: 1, activation: 'leaky' }) + // 12x12x6
  section('local', { filters: 4, size: 3, stride: 2, pad: 0, activation: 'linear' }) + // 5x5x4
  section('dropout', { probability: 0.5 }) +
  section('connected', { output: 40, batch_normalize: 1, activation: 'leaky' }) +
  (withSoftmax ? section('softmax', { groups: 4, temperature: 2 }) : '') +
  section('connected', { output: 52, activation: 'linear' }) +
  section('detection', { classes: 3, coords: 4, num: 2, side: 2, softmax: 0, sqrt: 1 });

// avgpool, conv on a connected layer's 1x1 output, route across flat and image layers
const FLAT_MIX =
  section('net', { width: 16, height: 16, channels: 3 }) +
  section('convolutional', { filters: 8, size: 3, pad: 1, activation: 'leaky' }) + // 0: 16x16x8
  section('avgpool') + // 1: 1x1x8
  section('connected', { output: 10, activation: 'relu' }) + // 2: 1x1x10
  section('route', { layers: '1,2' }) + // 3: 1x1x18
  section('convolutional', { filters: 12, size: 1, activation: 'linear' }) + // 4: 1x1x12
  section('softmax', { groups: 3 }) + // 5: flat 12
  section('route', { layers: '2,5' }) + // 6: sizes differ -> flat 22
  section('connected', { output: 7, activation: 'linear' }) +
  section('detection', { classes: 2, coords: 4, num: 1, side: 1 });

function randomInput(n: number, seed: number): Float32Array {
  let a = seed;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return (a >>> 8) / 16777216;
  });
}

describe('darknet layer semantics vs the live oracle', () => {
  it('conv (bn, groups, stride, pad/padding, every activation), maxpool paddings, route, reorg both ways', async () => {
    const cfg = cfgFile('region-mix', REGION_MIX);
    const weights = ourWeights(cfg, REGION_MIX, [0, 2, 0], 3);
    const { cmp, r } = await expectMatchesDarknet(cfg, weights, { inputF32: randomInput(3 * 64 * 64, 7) });
    expect(r.json.input.mode).toBe('raw-f32');
    expect(cmp.maxAbs).toBeGreaterThan(0.1);
    expect(cmp.maxDiff).toBeLessThanOrEqual(1e-4 * cmp.maxAbs);
  });

  it('local, dropout, connected + batch norm, softmax groups/temperature; v0.2, v0.1 and transposed headers', async () => {
    const text = DETECTION_MIX(true);
    const cfg = cfgFile('detection-mix', text);
    for (const version of [[0, 2, 0], [0, 1, 0], [1001, 0, 0]] as Array<[number, number, number]>) {
      const weights = ourWeights(cfg, text, version, 5);
      const { cmp } = await expectMatchesDarknet(cfg, weights, { image: darknetData('dog.jpg') });
      expect(cmp.maxAbs).toBeGreaterThan(0.1);
      expect(cmp.maxDiff, `header ${version.join('.')}`).toBeLessThanOrEqual(1e-4 * cmp.maxAbs);
    }
  });

  it('weights written by gen_weights.py with a v0.1 header (independent writer), local + connected', async () => {
    const cfg = cfgFile('detection-nosoftmax', DETECTION_MIX(false));
    const weights = await oracleWeights(cfg, { seed: 2, header: '0.1' });
    const { cmp } = await expectMatchesDarknet(cfg, weights, { image: darknetData('person.jpg') });
    expect(cmp.maxAbs).toBeGreaterThan(0.1);
    expect(cmp.maxDiff).toBeLessThanOrEqual(1e-4 * cmp.maxAbs);
  });

  it('avgpool, conv on a connected output, route across flat and image layers', async () => {
    const cfg = cfgFile('flat-mix', FLAT_MIX);
    const weights = ourWeights(cfg, FLAT_MIX, [0, 2, 0], 11);
    const { cmp } = await expectMatchesDarknet(cfg, weights, { image: darknetData('eagle.jpg') });
    expect(cmp.maxAbs).toBeGreaterThan(0.1);
    expect(cmp.maxDiff).toBeLessThanOrEqual(1e-4 * cmp.maxAbs);
  });

  it('maxpool whose padding exceeds its window: darknet -FLT_MAX cells reproduced exactly', async () => {
    const text =
      section('net', { width: 8, height: 8, channels: 3 }) +
      section('convolutional', { filters: 16, size: 3, pad: 1, activation: 'leaky' }) +
      section('maxpool', { size: 2, stride: 2, padding: 5 }) + // windows fully in the padding at both ends
      section('region', { classes: 3, coords: 4, num: 2 });
    const cfg = cfgFile('pad-maxpool', text);
    const weights = ourWeights(cfg, text, [0, 2, 0], 13);
    const { r, y } = await expectMatchesDarknet(cfg, weights, { inputF32: randomInput(3 * 8 * 8, 3) });
    const FLT_MAX = 3.4028234663852886e38;
    let padded = 0;
    for (let i = 0; i < r.pre.length; i++) {
      if (r.pre[i] === -FLT_MAX) {
        padded++;
        expect(y[i]).toBe(-FLT_MAX);
      } else {
        expect(Math.abs(y[i] - r.pre[i])).toBeLessThanOrEqual(1e-4 * 5);
      }
    }
    expect(padded).toBeGreaterThan(0);
    expect(padded).toBeLessThan(r.pre.length);
  });

  it('[batchnorm] layer: checked against darknet\'s formula (this darknet\'s CPU build segfaults on the layer: l.x is never allocated)', async () => {
    const conv = section('net', { width: 8, height: 8, channels: 3 }) +
      section('convolutional', { filters: 10, size: 3, pad: 1, activation: 'linear' });
    const region = section('region', { classes: 5, coords: 4, num: 1 });
    const withBn = conv + section('batchnorm') + region;
    const cfgBn = cfgFile('bn-layer', withBn);
    const wBn = ourWeights(cfgBn, withBn, [0, 2, 0], 17);
    const bytes = readFileSync(wBn);
    const plainCfg = cfgFile('bn-plain', conv + region);
    const plainW = join(work, 'bn-plain.weights');
    writeFileSync(plainW, bytes.subarray(0, bytes.length - 30 * 4)); // drop the batchnorm record
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset + bytes.length - 30 * 4, bytes.byteOffset + bytes.length));
    const [scales, mean, variance] = [f.subarray(0, 10), f.subarray(10, 20), f.subarray(20, 30)];
    const input = randomInput(3 * 8 * 8, 5);
    const convert = (cfg: string, w: string) => {
      const net = parseCfg(readFileSync(cfg, 'utf8'), cfg);
      return darknetToOnnx(net, readWeights(w, net)).bytes;
    };
    const y = await ortOutput(convert(cfgBn, wBn), input, [1, 3, 8, 8]);
    const x = await ortOutput(convert(plainCfg, plainW), input, [1, 3, 8, 8]);
    const want = Float32Array.from(x, (v, i) => {
      const c = Math.floor(i / 64);
      return ((v - mean[c]) / (Math.sqrt(variance[c]) + 1e-6)) * scales[c];
    });
    const cmp = compareTensors(y, want);
    expect(cmp.maxAbs).toBeGreaterThan(0.1);
    expect(cmp.maxDiff).toBeLessThanOrEqual(1e-5 * cmp.maxAbs);
  });
});
