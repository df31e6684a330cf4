// Reorg: our permutation, the tfjs layer and the exported ONNX graph all reproduce darknet's own reorg
// output exactly (darknet via libdarknet.so from the oracle's ctypes bindings).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '../src/train/backend.ts';
import { Reorg } from '../src/train/layers/index.ts';
import { reorgPermutation } from '../src/vision/reorg.ts';
import { exportLayersModel } from '../src/onnx/tfjs/index.ts';

const ORACLE = '/work/shared/darknet-oracle';
let dir: string;

const SCRIPT = `
import sys, numpy as np, ctypes as C
import dk_common as dk
net = dk.load_network(sys.argv[1].encode(), b"", 0)
dk.set_batch_network(net, 1)
N = net.contents
layers = dk.layer_array(net)
X = np.random.RandomState(int(sys.argv[2])).rand(N.w * N.h * N.c).astype(np.float32)
dk.network_predict(net, X.ctypes.data_as(C.POINTER(C.c_float)))
for i, name in ((0, 'conv'), (1, 'reorg')):
    np.asarray(dk.floats(layers[i].output, layers[i].outputs), dtype='<f4').tofile(sys.argv[3] + '.' + name)
`;

/** darknet's conv output (the reorg input, CHW) and reorg output for a w x h image, c filters, stride s. */
function darknetReorg(w: number, h: number, c: number, s: number): { input: Float32Array; output: Float32Array } {
  const cfg = path.join(dir, `r${w}x${h}x${c}s${s}.cfg`);
  writeFileSync(cfg, `[net]\nbatch=1\nwidth=${w}\nheight=${h}\nchannels=3\n\n[convolutional]\nfilters=${c}\nsize=1\nstride=1\npad=0\nactivation=linear\n\n[reorg]\nstride=${s}\n`);
  const out = path.join(dir, `r${w}x${h}x${c}s${s}`);
  execFileSync('/usr/bin/python3', [path.join(dir, 'dump.py'), cfg, String(w * h + c), out], {
    cwd: dir, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const f = (p: string) => {
    const b = readFileSync(p);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  return { input: f(`${out}.conv`), output: f(`${out}.reorg`) };
}

beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(path.join(tmpdir(), 'pinhole-reorg-'));
  copyFileSync(path.join(ORACLE, 'dk_common.py'), path.join(dir, 'dk_common.py'));
  writeFileSync(path.join(dir, 'dump.py'), SCRIPT);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Reorg matches darknet', () => {
  for (const [w, h, c, s] of [[6, 4, 8, 2], [26, 26, 64, 2], [6, 9, 18, 3]]) {
    it(`${w}x${h}x${c}, stride ${s}: permutation, tfjs layer and ONNX export equal darknet bit for bit`, async () => {
      const { input, output } = darknetReorg(w, h, c, s);
      expect(output.length).toBe(input.length);
      expect(new Set(input).size).toBeGreaterThan(input.length / 2); // distinct values: a wrong order cannot pass

      const perm = reorgPermutation(c, h, w, s);
      expect(Array.from(perm, (src) => input[src])).toEqual(Array.from(output));

      const xNchw = tf.tensor(input, [1, c, h, w]);
      const layer = new Reorg({ stride: s });
      const yNhwc = layer.apply(tf.transpose(xNchw, [0, 2, 3, 1])) as tf.Tensor;
      expect(yNhwc.shape).toEqual([1, h / s, w / s, c * s * s]);
      expect(Array.from(tf.transpose(yNhwc, [0, 3, 1, 2]).dataSync())).toEqual(Array.from(output));

      const x = tf.input({ shape: [h, w, c] });
      const model = tf.model({ inputs: x, outputs: new Reorg({ stride: s }).apply(x) as tf.SymbolicTensor });
      const sess = await ort.InferenceSession.create(exportLayersModel(model, { inputNames: ['x'], outputNames: ['y'] }));
      const r = await sess.run({ x: new ort.Tensor('float32', input, [1, c, h, w]) });
      expect(r.y.dims).toEqual([1, c * s * s, h / s, w / s]);
      expect(Array.from(r.y.data as Float32Array)).toEqual(Array.from(output));
      await sess.release();
    });
  }

  it('gradients flow through the tfjs layer (it is a pure permutation: the gradient of sum(y*g) is g permuted back)', () => {
    const [h, w, c] = [4, 6, 8];
    const x = tf.randomNormal([2, h, w, c]);
    const g = tf.randomNormal([2, h / 2, w / 2, c * 4]);
    const layer = new Reorg();
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t) as tf.Tensor, g)))(x);
    // y[i] = x[perm[i]]  =>  dx[perm[i]] = g[i]  (per image, CHW)
    const perm = reorgPermutation(c, h, w, 2);
    const gC = tf.transpose(g, [0, 3, 1, 2]).dataSync();
    const dxC = tf.transpose(dx, [0, 3, 1, 2]).dataSync();
    const n = c * h * w;
    for (let b = 0; b < 2; b++) for (let i = 0; i < n; i++) expect(dxC[b * n + perm[i]]).toBe(gC[b * n + i]);
  });
});
