// Caption scenes for StackGAN: one object per scene, the caption and its attributes, the image at
// Stage-II size and box-filtered down to the Stage-I size. Scenes whose attribute combination is held
// out (config.ts) are skipped for training and are the only ones used for the "unseen captions"
// evaluation.
import { synthCaptionScene, type CaptionScene } from '../../data/caption-scenes.ts';
import { Rng } from '../../data/rng.ts';
import { tf } from '../../backend.ts';
import { encodeText, type TextSpec } from '../../../vision/text.ts';
import {
  CAPTION_CLASS_IDS, CAPTION_COLOURS, CAPTION_POSITIONS, CAPTION_SHAPES, isHeldOut, type Attributes,
} from './config.ts';

export interface CaptionItem {
  caption: string;
  attrs: Attributes;
  /** size x size x 3, RGB */
  rgb: Uint8Array;
}

export function attributesOf(scene: CaptionScene): Attributes {
  const o = scene.objects[0];
  const colour = CAPTION_COLOURS.indexOf(o.colour);
  const shape = CAPTION_SHAPES.indexOf(o.shape);
  const position = CAPTION_POSITIONS.indexOf(o.position);
  if (colour < 0 || shape < 0 || position < 0) throw new Error(`caption scene outside the caption set: ${scene.caption}`);
  return { colour, shape, position };
}

export function captionScene(seed: number, index: number, size: number, background?: readonly [number, number, number]): CaptionScene {
  return synthCaptionScene(seed, index, { size, maxObjects: 1, classes: CAPTION_CLASS_IDS, colours: CAPTION_COLOURS, background });
}

/** A light background of random tone and tint (the judge must not depend on the exact grey). */
function randomBackground(seed: number, index: number): [number, number, number] {
  const rng = new Rng(seed, index, 0xb9);
  const grey = rng.range(200, 255);
  return [0, 1, 2].map(() => Math.max(0, Math.min(255, Math.round(grey + rng.range(-8, 8))))) as [number, number, number];
}

/**
 * `count` scenes of caption set `seed` whose combination is (split 'train') not held out or (split
 * 'heldout') held out, scanning scene indices from 0.
 */
export function captionItems(seed: number, count: number, size: number, split: 'train' | 'heldout' | 'all',
  opts: { randomBackground?: boolean } = {}): CaptionItem[] {
  const out: CaptionItem[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i > count * 200 + 1000) throw new Error(`caption set ${seed}: too few ${split} scenes`);
    const s = captionScene(seed, i, size, opts.randomBackground ? randomBackground(seed, i) : undefined);
    const attrs = attributesOf(s);
    if (split !== 'all' && isHeldOut(attrs) !== (split === 'heldout')) continue;
    out.push({ caption: s.caption, attrs, rgb: s.rgb });
  }
  return out;
}

/** Box filter by an integer factor (RGB HWC, side `size`). */
export function downsample(rgb: Uint8Array, size: number, factor: number): Uint8Array {
  const s = size / factor;
  const out = new Uint8Array(s * s * 3);
  const area = factor * factor;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) acc += rgb[((y * factor + dy) * size + x * factor + dx) * 3 + c];
        out[(y * s + x) * 3 + c] = Math.round(acc / area);
      }
    }
  }
  return out;
}

/** uint8 RGB images (same size) -> [N, s, s, 3] in [-1, 1]. */
export function imageTensor(images: Uint8Array[], side: number): tf.Tensor4D {
  const n = images.length;
  const f = new Float32Array(n * side * side * 3);
  images.forEach((img, k) => {
    const base = k * side * side * 3;
    for (let i = 0; i < img.length; i++) f[base + i] = img[i] / 127.5 - 1;
  });
  return tf.tensor4d(f, [n, side, side, 3]);
}

export function tokenTensor(captions: string[], spec: Pick<TextSpec, 'vocabulary' | 'maxTokens'>): tf.Tensor2D {
  const ids = new Int32Array(captions.length * spec.maxTokens);
  captions.forEach((c, k) => ids.set(encodeText(c, spec).ids, k * spec.maxTokens));
  return tf.tensor2d(ids, [captions.length, spec.maxTokens], 'int32');
}

export function normalTensor(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = rng.normal();
  return tf.tensor(f, shape);
}

/** The training pool in memory: both resolutions, captions and attributes. */
export interface CaptionPool {
  size: number;
  base: number;
  items: CaptionItem[];
  small: Uint8Array[];
}

export function captionPool(seed: number, count: number, size: number, base: number): CaptionPool {
  const items = captionItems(seed, count, size, 'train');
  return { size, base, items, small: items.map((it) => downsample(it.rgb, size, size / base)) };
}

export interface CaptionBatch {
  tokens: tf.Tensor2D;
  /** captions of other pool items with different attributes (matching-aware discriminator) */
  wrongTokens: tf.Tensor2D;
  large: tf.Tensor4D;
  small: tf.Tensor4D;
  z: tf.Tensor;
  eps: tf.Tensor;
  captions: string[];
}

/** Batch `step` of the run: drawn from a stream keyed by (seed, step), so a resumed run sees the same data. */
export function captionBatch(pool: CaptionPool, spec: Pick<TextSpec, 'vocabulary' | 'maxTokens'>, n: number, seed: number, step: number,
  dims: { zDim: number; cDim: number }, want: { large: boolean; small: boolean }): CaptionBatch {
  const rng = new Rng(seed, step, 0x5a);
  const idx = Array.from({ length: n }, () => Math.floor(rng.float() * pool.items.length));
  const wrong = idx.map((i) => {
    const a = pool.items[i].attrs;
    for (;;) {
      const j = Math.floor(rng.float() * pool.items.length);
      const b = pool.items[j].attrs;
      if (b.colour !== a.colour || b.shape !== a.shape || b.position !== a.position) return j;
    }
  });
  const captions = idx.map((i) => pool.items[i].caption);
  return {
    tokens: tokenTensor(captions, spec),
    wrongTokens: tokenTensor(wrong.map((j) => pool.items[j].caption), spec),
    large: want.large ? imageTensor(idx.map((i) => pool.items[i].rgb), pool.size) : tf.zeros([0, pool.size, pool.size, 3]) as tf.Tensor4D,
    small: want.small ? imageTensor(idx.map((i) => pool.small[i]), pool.base) : tf.zeros([0, pool.base, pool.base, 3]) as tf.Tensor4D,
    z: normalTensor(rng, [n, dims.zDim]),
    eps: normalTensor(rng, [n, dims.cDim]),
    captions,
  };
}

export function disposeBatch(b: CaptionBatch): void {
  tf.dispose([b.tokens, b.wrongTokens, b.large, b.small, b.z, b.eps]);
}
