// The shipped generators, measured through the serving path (Runtime -> worker ORT -> PNG):
// models/stackgan-synth on captions of held-out (colour, shape, position) combinations, checked by
// the attribute judge shipped beside it; models/wgan-synth samples. Figures are recomputed here, not
// read from model.json (which is checked to agree).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/runtime.ts';
import { captionItems } from '../src/train/gan/stackgan/data.ts';
import { isHeldOut, type Attributes } from '../src/train/gan/stackgan/config.ts';

const MODELS = fileURLToPath(new URL('../models', import.meta.url));
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create({ modelsDir: MODELS, only: ['stackgan-synth', 'wgan-synth'], log: quiet });
}, 120_000);
afterAll(async () => {
  await rt?.close();
});

async function decode(png: Uint8Array): Promise<{ width: number; height: number; rgb: Buffer }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: data };
}

/** HWC uint8 -> NCHW [-1, 1], bilinear-resized to `size` first (as the training-time evaluation). */
async function judgeInput(pngs: Uint8Array[], size: number): Promise<Float32Array> {
  const out = new Float32Array(pngs.length * 3 * size * size);
  for (const [k, png] of pngs.entries()) {
    const { data } = await sharp(png).removeAlpha().resize(size, size, { kernel: 'linear' as never, fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) out[k * 3 * size * size + c * size * size + p] = data[p * 3 + c] / 127.5 - 1;
  }
  return out;
}

function laplacian(rgb: Buffer, w: number, h: number): number {
  const g = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) g[i] = (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3;
  let s = 0;
  for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) {
    s += Math.abs(g[(y - 1) * w + x] + g[(y + 1) * w + x] + g[y * w + x - 1] + g[y * w + x + 1] - 4 * g[y * w + x]);
  }
  return s / ((w - 2) * (h - 2));
}

describe('models/stackgan-synth', () => {
  it('Stage-II images agree with held-out captions >= 70% (attribute judge), above Stage-I; model.json says the same', async () => {
    const manifest = JSON.parse(await readFile(join(MODELS, 'stackgan-synth', 'model.json'), 'utf8'));
    const judgeSession = await ort.InferenceSession.create(join(MODELS, 'stackgan-synth', manifest.judge.file));
    const size = manifest.judge.size as number;
    // captions of held-out combinations from a caption set the training never drew from
    const items = captionItems(4242, 120, size, 'heldout');
    expect(items.every((it) => isHeldOut(it.attrs))).toBe(true);
    const vocab = new Set<string>(manifest.text.vocabulary);
    expect(items.every((it) => it.caption.split(' ').every((w) => vocab.has(w)))).toBe(true);

    const score = async (stage: 1 | 2) => {
      const pngs: Uint8Array[] = [];
      let sharp2 = 0;
      for (const [i, it] of items.entries()) {
        const g = await rt.generate('stackgan-synth', { text: it.caption, seed: 1000 + i, stage });
        pngs.push(g.png);
      }
      const x = await judgeInput(pngs, size);
      for (const png of pngs) {
        const up = await sharp(png).removeAlpha().resize(size, size, { kernel: 'linear' as never, fit: 'fill' }).raw().toBuffer();
        sharp2 += laplacian(up, size, size);
      }
      const out = await judgeSession.run({ [manifest.judge.input]: new ort.Tensor('float32', x, [items.length, 3, size, size]) });
      const keys = ['colour', 'shape', 'position'] as const;
      const hits = { colour: 0, shape: 0, position: 0 };
      keys.forEach((k, j) => {
        const logits = out[manifest.judge.outputs[j]].data as Float32Array;
        const n = logits.length / items.length;
        items.forEach((it, i) => {
          let best = 0;
          for (let c = 1; c < n; c++) if (logits[i * n + c] > logits[i * n + best]) best = c;
          if (best === (it.attrs as Attributes)[k]) hits[k]++;
        });
      });
      const per = { colour: hits.colour / items.length, shape: hits.shape / items.length, position: hits.position / items.length };
      return { ...per, mean: (per.colour + per.shape + per.position) / 3, sharpness: sharp2 / items.length };
    };
    const s2 = await score(2);
    const s1 = await score(1);
    console.log(`stackgan-synth on ${items.length} held-out captions: Stage-II ${JSON.stringify(s2)}; Stage-I ${JSON.stringify(s1)}`);
    expect(s2.mean).toBeGreaterThanOrEqual(0.7);
    expect(s2.mean > s1.mean || s2.sharpness > s1.sharpness).toBe(true);
    expect(s2.sharpness).toBeGreaterThan(s1.sharpness);
    expect(manifest.metrics.stage2_agreement_heldout).toBeGreaterThanOrEqual(0.7);
    expect(manifest.metrics.stage2_sharpness).toBeGreaterThan(manifest.metrics.stage1_sharpness_upsampled);
    await judgeSession.release();
  }, 240_000);

  it('one seed gives one image; the text and the seed both change it', async () => {
    const text = 'a red circle in the top left';
    const a = await rt.generate('stackgan-synth', { text, seed: 7 });
    const b = await rt.generate('stackgan-synth', { text, seed: 7 });
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(true);
    const pa = await decode(a.png);
    expect([pa.width, pa.height]).toEqual([64, 64]);
    const other = await decode((await rt.generate('stackgan-synth', { text, seed: 8 })).png);
    expect(other.rgb.equals(pa.rgb)).toBe(false);
    const blue = await decode((await rt.generate('stackgan-synth', { text: 'a blue circle in the top left', seed: 7 })).png);
    expect(blue.rgb.equals(pa.rgb)).toBe(false);
    const s1 = await decode((await rt.generate('stackgan-synth', { text, seed: 7, stage: 1 })).png);
    expect([s1.width, s1.height]).toEqual([16, 16]);
  });
});

describe('models/wgan-synth', () => {
  it('samples 32x32 images (a 4x4 grid for n=16), deterministic per seed, varied across samples; training lowered the SWD', async () => {
    const a = await rt.sample('wgan-synth', { seed: 11, n: 16 });
    const b = await rt.sample('wgan-synth', { seed: 11, n: 16 });
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(true);
    const g = await decode(a.png);
    expect([g.width, g.height]).toEqual([4 * 32 + 3 * 2, 4 * 32 + 3 * 2]);
    const tiles = Array.from({ length: 16 }, (_, k) => {
      const x0 = (k % 4) * 34;
      const y0 = Math.floor(k / 4) * 34;
      const t = Buffer.alloc(32 * 32 * 3);
      for (let y = 0; y < 32; y++) g.rgb.copy(t, y * 96, ((y0 + y) * g.width + x0) * 3, ((y0 + y) * g.width + x0 + 32) * 3);
      return t;
    });
    expect(new Set(tiles.map((t) => t.toString('base64'))).size).toBe(16);
    const m = JSON.parse(await readFile(join(MODELS, 'wgan-synth', 'model.json'), 'utf8'));
    expect(m.kind).toBe('wgan');
    expect(m.metrics.swd_final).toBeLessThan(m.metrics.swd_initial);
  });
});
