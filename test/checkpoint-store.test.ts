// The shared checkpoint folder code (src/train/checkpoint-store.ts) and the checkpoints committed under
// training/, which every later version must keep loading: they are read here (never written) by the
// detector and GAN loaders and compared with a reading of the bytes by this file's own account of the
// format (tables in meta.json, float32 arrays end to end in file order).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from './helpers/tmp.ts';
import { initBackend, tf } from '../src/train/backend.ts';
import { findCheckpoint as findStore, packFloat32, unpackFloat32, writeCheckpoint } from '../src/train/checkpoint-store.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights, saveCheckpoint } from '../src/train/engine/checkpoint.ts';
import { checkpointDir, loadGanCheckpoint, restoreModels, restoreOptimizers, saveGanCheckpoint } from '../src/train/gan/checkpoint.ts';

const tmp = tempDirs('pinhole-ckpt-');
beforeAll(async () => {
  await initBackend();
});

/** The format as this test reads it: float32 arrays of the tables' shapes, end to end. */
function rawArrays(file: string, shapes: number[][]): Float32Array[] {
  const b = readFileSync(file);
  const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  let o = 0;
  return shapes.map((s) => {
    const n = s.reduce((a, c) => a * c, 1);
    o += n;
    return all.slice(o - n, o);
  });
}
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const ROOT = path.resolve(import.meta.dirname, '..', 'training');
const committed = (name: string) => existsSync(path.join(ROOT, name, 'latest'));

describe('committed checkpoints under training/ load bit for bit', () => {
  it.skipIf(!committed('backbone'))('backbone (detector format): weights and optimizer state', async () => {
    const p = (await findCheckpoint(path.join(ROOT, 'backbone')))!;
    expect(path.basename(p)).toBe(readFileSync(path.join(ROOT, 'backbone', 'latest'), 'utf8').trim());
    const ck = await loadCheckpoint(p);
    expect(ck.meta.trainer).toBe('backbone');
    const w = rawArrays(path.join(p, 'weights.bin'), ck.meta.weights.map((e) => e.shape));
    const o = rawArrays(path.join(p, 'optimizer.bin'), ck.meta.optimizer.map((e) => e.shape));
    expect(ck.weights.length).toBe(w.length);
    ck.weights.forEach((a, i) => expect(bytes(a).equals(bytes(w[i])), ck.meta.weights[i].name).toBe(true));
    ck.optimizer.forEach((t, i) => {
      expect(t.name).toBe(ck.meta.optimizer[i].name);
      expect(bytes(t.tensor.dataSync() as Float32Array).equals(bytes(o[i])), t.name).toBe(true);
    });
    tf.dispose(ck.optimizer.map((t) => t.tensor));
  });

  for (const run of ['stackgan', 'wgan']) {
    it.skipIf(!committed(run))(`${run} (GAN format): every keyed tensor`, async () => {
      const ck = (await loadGanCheckpoint(checkpointDir(path.join(ROOT, run))))!;
      expect(path.basename(ck.dir)).toBe(readFileSync(path.join(ROOT, run, 'latest'), 'utf8').trim());
      const raw = rawArrays(path.join(ck.dir, 'tensors.bin'), ck.meta.tensors.map((e) => e.shape));
      expect([...ck.tensors.keys()]).toEqual(ck.meta.tensors.map((e) => e.key));
      ck.meta.tensors.forEach((e, i) => expect(bytes(ck.tensors.get(e.key)!.data).equals(bytes(raw[i])), e.key).toBe(true));
      expect(ck.meta.tensors.some((e) => e.key.startsWith('opt/'))).toBe(true);
    });
  }
});

describe('checkpoint store', () => {
  it('packs and unpacks arrays of the given shapes, refusing a size that does not match', () => {
    const a = Float32Array.from([1, -2.5, 3, 4, 5, 6]);
    const b = Float32Array.from([7, Math.PI]);
    const buf = packFloat32([a, b]);
    expect(buf.byteLength).toBe(32);
    const [x, y] = unpackFloat32(buf.subarray(0), [[2, 3], [2]], 'test');
    expect(Array.from(x)).toEqual(Array.from(a));
    expect(bytes(y).equals(bytes(b))).toBe(true);
    expect(() => unpackFloat32(buf.subarray(4), [[2, 3], [2]], 'short.bin')).toThrow(/short.bin: 28 bytes, meta.json describes 32/);
  });

  it('writes whole folders, points latest at the newest, keeps `keep` and never the one just written', async () => {
    const d = tmp();
    const rank = (f: string) => (/^ckpt-(\d+)$/.test(f) ? Number(f.slice(5)) : undefined);
    const write = (s: number, keep = 2) => writeCheckpoint(d, `ckpt-${s}`, { 'a.bin': packFloat32([Float32Array.of(s)]), 'meta.json': '{}' }, keep, rank);
    for (const s of [5, 6, 1]) await write(s);
    // 1 ranks lowest but was just written (a run resumed from an early checkpoint): it stays, and is latest
    expect(readdirSync(d).sort()).toEqual(['ckpt-1', 'ckpt-5', 'ckpt-6', 'latest']);
    expect(readFileSync(path.join(d, 'latest'), 'utf8').trim()).toBe('ckpt-1');
    await write(2);
    expect(readdirSync(d).sort()).toEqual(['ckpt-2', 'ckpt-5', 'ckpt-6', 'latest']);
    expect(readdirSync(d).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(Array.from(unpackFloat32(readFileSync(path.join(d, 'ckpt-2', 'a.bin')), [[1]], 'a')[0])).toEqual([2]);
    expect(await findStore(d)).toBe(path.join(d, 'ckpt-2'));
    expect(await findStore(path.join(d, 'ckpt-5'))).toBe(path.join(d, 'ckpt-5'));
    expect(await findStore(path.join(d, 'none'))).toBeUndefined();
    // folders the rank does not know are left alone
    writeFileSync(path.join(d, 'notes.txt'), 'x');
    await writeCheckpoint(d, 'ckpt-9', { 'meta.json': '{}' }, 1, rank);
    expect(readdirSync(d).sort()).toEqual(['ckpt-9', 'latest', 'notes.txt']);
  });

  it('round-trips detector and GAN checkpoints through models and optimizers', async () => {
    const build = (seed: number) => tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'd' }), tf.layers.batchNormalization({ name: 'bn' })],
    });
    const m = build(1);
    const opt = tf.train.adam(0.01);
    const x = tf.randomNormal([6, 4], 0, 1, 'float32', 2);
    opt.minimize(() => tf.mean(tf.square(m.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
    const want = m.getWeights().map((t) => Float32Array.from(t.dataSync()));

    const d = tmp();
    await saveCheckpoint(d, { trainer: 't', step: 7, epoch: 0, stepInEpoch: 7, seen: 42, seed: 1, options: {}, state: { k: 1 } }, m, opt);
    const ck = await loadCheckpoint((await findCheckpoint(d))!);
    expect(ck.meta).toMatchObject({ format: 'pinhole-checkpoint-1', step: 7, seen: 42, state: { k: 1 } });
    const m2 = build(5);
    restoreWeights(m2, ck.meta, ck.weights);
    m2.getWeights().forEach((t, i) => expect(bytes(t.dataSync() as Float32Array).equals(bytes(want[i]))).toBe(true));
    expect(() => restoreWeights(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, name: 'd' })] }), ck.meta, ck.weights)).toThrow(/not the same architecture/);
    tf.dispose(ck.optimizer.map((o) => o.tensor));

    const g = tmp();
    await saveGanCheckpoint(g, { trainer: 'wgan', phase: 'wgan', step: 3, seed: 1, options: {}, state: {} }, { gen: m }, { gen: opt });
    const gk = (await loadGanCheckpoint(g))!;
    expect(gk.meta.format).toBe('pinhole-gan-checkpoint-1');
    const m3 = build(9);
    const opt3 = tf.train.adam(0.01);
    restoreModels(gk, { gen: m3 });
    await restoreOptimizers(gk, { gen: opt3 });
    m3.getWeights().forEach((t, i) => expect(bytes(t.dataSync() as Float32Array).equals(bytes(want[i]))).toBe(true));
    const [a, b] = [await opt.getWeights(), await opt3.getWeights()];
    expect(b.length).toBe(a.length);
    a.forEach((o, i) => expect(Array.from(b[i].tensor.dataSync())).toEqual(Array.from(o.tensor.dataSync())));
    // a folder named directly loads too
    expect((await loadGanCheckpoint(gk.dir))!.dir).toBe(gk.dir);
  });
});
