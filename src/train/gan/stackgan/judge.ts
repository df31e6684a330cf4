// The judge for text-to-image quality: a small CNN trained on real caption scenes to read an image's
// colour, shape and position, then used to check generated images against the attributes their
// caption asked for. It is trained on its own caption set (every combination), never on generated
// images, and its accuracy on real held-out scenes is reported beside the generator's agreement.
import { tf } from '../../backend.ts';
import { CAPTION_COLOURS, CAPTION_POSITIONS, CAPTION_SHAPES, type Attributes } from './config.ts';
import { imageTensor, normalTensor, type CaptionItem } from './data.ts';
import { Rng } from '../../data/rng.ts';
import { InitSeeds } from '../init-seeds.ts';

type ST = tf.SymbolicTensor;
export const ATTRIBUTE_KEYS = ['colour', 'shape', 'position'] as const;
export type AttributeKey = (typeof ATTRIBUTE_KEYS)[number];
export const ATTRIBUTE_SIZES: Record<AttributeKey, number> = {
  colour: CAPTION_COLOURS.length, shape: CAPTION_SHAPES.length, position: CAPTION_POSITIONS.length,
};

/** 64x64 (or any multiple of 16) RGB in [-1, 1] -> logits for colour, shape, position. */
export function judgeModel(size: number, seed: number): tf.LayersModel {
  const s = new InitSeeds(seed);
  const img = tf.input({ shape: [size, size, 3], name: 'image' });
  let h: ST = img;
  [16, 32, 64, 64].forEach((f, i) => {
    h = tf.layers.conv2d({ filters: f, kernelSize: 4, strides: 2, padding: 'same', useBias: i === 0, name: `j_conv${i}`, kernelInitializer: s.glorot() }).apply(h) as ST;
    if (i > 0) h = tf.layers.batchNormalization({ name: `j_bn${i}` }).apply(h) as ST;
    h = tf.layers.leakyReLU({ alpha: 0.2, name: `j_lrelu${i}` }).apply(h) as ST;
  });
  h = tf.layers.flatten({ name: 'j_flat' }).apply(h) as ST;
  const outs = ATTRIBUTE_KEYS.map((k) => tf.layers.dense({ units: ATTRIBUTE_SIZES[k], name: `j_${k}`, kernelInitializer: s.glorot() }).apply(h) as ST);
  return tf.model({ inputs: img, outputs: outs, name: 'attribute_judge' });
}

export function attributeLoss(logits: tf.Tensor[], labels: Attributes[]): tf.Scalar {
  return tf.tidy(() => {
    const parts = ATTRIBUTE_KEYS.map((k, i) => {
      const y = tf.oneHot(tf.tensor1d(labels.map((a) => a[k]), 'int32'), ATTRIBUTE_SIZES[k]);
      return tf.losses.softmaxCrossEntropy(y, logits[i]);
    });
    return tf.addN(parts) as tf.Scalar;
  });
}

export interface JudgeTrainOptions {
  steps: number;
  batch: number;
  seed: number;
  lr?: number;
  /** called every 50 steps */
  onStep?: (step: number, loss: number) => void;
}

/**
 * Trains the judge on `items` (real scenes, rendered on random light backgrounds) with nuisance
 * augmentations, so that it reads colour, shape and position and not the exact look of rendered
 * scenes: pixel noise, brightness/contrast jitter, and blur (a box-filtered, re-enlarged copy, as an
 * upsampled low-resolution image looks). It never sees a generated image.
 */
export async function trainJudge(model: tf.LayersModel, items: CaptionItem[], size: number, o: JudgeTrainOptions, startStep = 0,
  optimizer: tf.Optimizer = tf.train.adam(o.lr ?? 1e-3)): Promise<tf.Optimizer> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let step = startStep; step < o.steps; step++) {
    const rng = new Rng(o.seed, step, 0x7a);
    const idx = Array.from({ length: o.batch }, () => Math.floor(rng.float() * items.length));
    const raw = imageTensor(idx.map((i) => items[i].rgb), size);
    const blurFactor = rng.pick([1, 1, 2, 4]);
    const x = blurFactor === 1 ? raw : tf.tidy(() => tf.image.resizeBilinear(tf.avgPool(raw, blurFactor, blurFactor, 'valid'), [size, size]) as tf.Tensor4D);
    const noise = normalTensor(rng, x.shape);
    const sigma = rng.range(0, 0.15);
    const gain = rng.range(0.85, 1.15);
    const shift = rng.range(-0.1, 0.1);
    const cost = optimizer.minimize(() => {
      const xn = tf.clipByValue(tf.add(tf.add(tf.mul(x, gain), shift), tf.mul(noise, sigma)), -1, 1);
      return attributeLoss(model.apply(xn, { training: true }) as tf.Tensor[], idx.map((i) => items[i].attrs));
    }, true, vars);
    tf.dispose(blurFactor === 1 ? [x, noise] : [raw, x, noise]);
    if ((step + 1) % 50 === 0) o.onStep?.(step + 1, cost!.dataSync()[0]);
    cost?.dispose();
    if (step % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  return optimizer;
}

/** Predicted attributes for images [N, s, s, 3] in [-1, 1] (resized to the judge's input first). */
export function judge(model: tf.LayersModel, images: tf.Tensor4D, batch = 64): Attributes[] {
  const size = model.inputs[0].shape[1] as number;
  const out: Attributes[] = [];
  for (let s = 0; s < images.shape[0]; s += batch) {
    const preds = tf.tidy(() => {
      let x = images.slice([s], [Math.min(batch, images.shape[0] - s)]);
      if (x.shape[1] !== size) x = tf.image.resizeBilinear(x, [size, size]);
      const logits = model.predict(x) as tf.Tensor[];
      return logits.map((l) => l.argMax(-1).dataSync() as Int32Array);
    });
    for (let i = 0; i < preds[0].length; i++) out.push({ colour: preds[0][i], shape: preds[1][i], position: preds[2][i] });
  }
  return out;
}

export interface Agreement {
  colour: number;
  shape: number;
  position: number;
  /** mean of the three */
  mean: number;
  /** all three right */
  all: number;
  n: number;
}

export function agreement(pred: Attributes[], want: Attributes[]): Agreement {
  if (pred.length !== want.length) throw new Error(`agreement: ${pred.length} predictions for ${want.length} captions`);
  const n = pred.length;
  const hit = { colour: 0, shape: 0, position: 0, all: 0 };
  pred.forEach((p, i) => {
    const w = want[i];
    const c = p.colour === w.colour;
    const s = p.shape === w.shape;
    const q = p.position === w.position;
    hit.colour += +c;
    hit.shape += +s;
    hit.position += +q;
    hit.all += +(c && s && q);
  });
  const r = (v: number) => Math.round((v / Math.max(1, n)) * 10000) / 10000;
  return {
    colour: r(hit.colour), shape: r(hit.shape), position: r(hit.position),
    mean: r((hit.colour + hit.shape + hit.position) / 3), all: r(hit.all), n,
  };
}

/**
 * Sharpness: mean absolute response of the 4-neighbour Laplacian on the grey image at `size`
 * (images are first brought to that size with bilinear resampling), in [0, 255] units.
 */
export function sharpness(images: tf.Tensor4D, size: number): number {
  return tf.tidy(() => {
    let x = images;
    if (x.shape[1] !== size) x = tf.image.resizeBilinear(x, [size, size]);
    const grey = tf.mean(x, -1, true).mul(127.5) as tf.Tensor4D;
    const k = tf.tensor4d([0, 1, 0, 1, -4, 1, 0, 1, 0], [3, 3, 1, 1]);
    const lap = tf.conv2d(grey, k, 1, 'valid');
    return tf.mean(tf.abs(lap)).dataSync()[0];
  });
}
