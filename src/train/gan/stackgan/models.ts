// StackGAN networks (Zhang et al. 2017) in tfjs layers, sized for the generated caption scenes:
// a SELU text encoder, conditioning augmentation, Stage-I generator/discriminator at the base size,
// Stage-II generator (downsample the Stage-I image, join the text, residual blocks, upsample 4x) and
// discriminator. Blocks follow the paper: upsampling = nearest neighbour x2 + 3x3 conv + BN + ReLU;
// downsampling = 4x4 stride-2 conv + BN + leaky ReLU, no BN on the first block.
import { tf } from '../../backend.ts';
import { alphaDropoutLayer, SELU_ACTIVATION } from '../../snn/index.ts';
import { InitSeeds } from '../init-seeds.ts';
import type { StackGanConfig } from './config.ts';

type ST = tf.SymbolicTensor;

const LEAK = 0.2;

export function bn(name: string): tf.layers.Layer {
  return tf.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-5 });
}

export function conv(s: InitSeeds, filters: number, k: number, stride: number, name: string, opts: { bias?: boolean; padding?: 'same' | 'valid' } = {}): tf.layers.Layer {
  return tf.layers.conv2d({
    filters, kernelSize: k, strides: stride, padding: opts.padding ?? 'same', useBias: opts.bias ?? false, name,
    kernelInitializer: s.normal(0.02),
  });
}

export function upBlock(s: InitSeeds, x: ST, filters: number, name: string): ST {
  let y = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `${name}_up` }).apply(x) as ST;
  y = conv(s, filters, 3, 1, `${name}_conv`).apply(y) as ST;
  y = bn(`${name}_bn`).apply(y) as ST;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as ST;
}

export function downBlock(s: InitSeeds, x: ST, filters: number, name: string, withBn: boolean): ST {
  let y = conv(s, filters, 4, 2, `${name}_conv`).apply(x) as ST;
  if (withBn) y = bn(`${name}_bn`).apply(y) as ST;
  return tf.layers.leakyReLU({ alpha: LEAK, name: `${name}_lrelu` }).apply(y) as ST;
}

function resBlock(s: InitSeeds, x: ST, filters: number, name: string): ST {
  let y = conv(s, filters, 3, 1, `${name}_c1`).apply(x) as ST;
  y = bn(`${name}_bn1`).apply(y) as ST;
  y = tf.layers.reLU({ name: `${name}_relu1` }).apply(y) as ST;
  y = conv(s, filters, 3, 1, `${name}_c2`).apply(y) as ST;
  y = bn(`${name}_bn2`).apply(y) as ST;
  y = tf.layers.add({ name: `${name}_add` }).apply([x, y]) as ST;
  return tf.layers.reLU({ name: `${name}_relu2` }).apply(y) as ST;
}

/** A vector [N, d] replicated over an s x s grid: [N, s, s, d]. */
function tileVector(v: ST, d: number, s: number, name: string): ST {
  const r = tf.layers.reshape({ targetShape: [1, 1, d], name: `${name}_r` }).apply(v) as ST;
  return tf.layers.upSampling2d({ size: [s, s], interpolation: 'nearest', name: `${name}_tile` }).apply(r) as ST;
}

/**
 * Text encoder: token ids -> word embeddings -> fully connected SELU layers (LeCun-normal, alpha
 * dropout while training) -> phi_t. Self-normalising, so no batch norm is needed in it.
 */
export function textEncoder(cfg: StackGanConfig, vocabSize: number, s: InitSeeds): tf.LayersModel {
  const tokens = tf.input({ shape: [cfg.maxTokens], dtype: 'int32', name: 'tokens' });
  let h = tf.layers.embedding({ inputDim: vocabSize, outputDim: cfg.wordDim, name: 'te_embed',
    embeddingsInitializer: s.normal(1) }).apply(tokens) as ST;
  h = tf.layers.flatten({ name: 'te_flat' }).apply(h) as ST;
  h = tf.layers.dense({ units: 128, activation: SELU_ACTIVATION, kernelInitializer: s.lecun(), name: 'te_fc1' }).apply(h) as ST;
  h = alphaDropoutLayer({ rate: 0.05, name: 'te_adrop', seed: s.next() }).apply(h) as ST;
  const phi = tf.layers.dense({ units: cfg.textDim, activation: SELU_ACTIVATION, kernelInitializer: s.lecun(), name: 'te_fc2' }).apply(h) as ST;
  return tf.model({ inputs: tokens, outputs: phi, name: 'text_encoder' });
}

/** Heads that read the caption's attributes back from phi_t (the encoder's pre-training task). */
export function attributeHeads(inDim: number, sizes: { colour: number; shape: number; position: number }, prefix: string, s: InitSeeds): tf.LayersModel {
  const x = tf.input({ shape: [inDim], name: `${prefix}_in` });
  const outs = (['colour', 'shape', 'position'] as const).map((k) =>
    tf.layers.dense({ units: sizes[k], name: `${prefix}_${k}`, kernelInitializer: s.glorot() }).apply(x) as ST);
  return tf.model({ inputs: x, outputs: outs, name: `${prefix}_heads` });
}

/**
 * Conditioning augmentation: c = mu(phi) + sigma(phi) * eps with eps ~ N(0, I) given as an input
 * (so serving can seed it). sigma = softplus(.) keeps it positive; outputs [c, mu, sigma].
 */
export function conditioningAugmentation(cfg: StackGanConfig, name: string, s: InitSeeds): tf.LayersModel {
  const phi = tf.input({ shape: [cfg.textDim], name: `${name}_phi` });
  const eps = tf.input({ shape: [cfg.cDim], name: `${name}_eps` });
  const mu = tf.layers.dense({ units: cfg.cDim, name: `${name}_mu`, kernelInitializer: s.glorot() }).apply(phi) as ST;
  const sigma = tf.layers.dense({ units: cfg.cDim, activation: 'softplus', name: `${name}_sigma`, kernelInitializer: s.glorot(),
    biasInitializer: tf.initializers.constant({ value: -1 }) }).apply(phi) as ST;
  const noise = tf.layers.multiply({ name: `${name}_se` }).apply([sigma, eps]) as ST;
  const c = tf.layers.add({ name: `${name}_c` }).apply([mu, noise]) as ST;
  return tf.model({ inputs: [phi, eps], outputs: [c, mu, sigma], name });
}

/** Stage-I generator: [c, z] -> base x base RGB in [-1, 1]. */
export function stage1Generator(cfg: StackGanConfig, s: InitSeeds): tf.LayersModel {
  const c = tf.input({ shape: [cfg.cDim], name: 'g1_c' });
  const z = tf.input({ shape: [cfg.zDim], name: 'g1_z' });
  const s0 = cfg.base / 4;
  let h = tf.layers.concatenate({ name: 'g1_cz' }).apply([c, z]) as ST;
  h = tf.layers.dense({ units: s0 * s0 * cfg.ngf1, useBias: false, name: 'g1_fc', kernelInitializer: s.normal(0.02) }).apply(h) as ST;
  h = tf.layers.reshape({ targetShape: [s0, s0, cfg.ngf1], name: 'g1_r' }).apply(h) as ST;
  h = bn('g1_fc_bn').apply(h) as ST;
  h = tf.layers.reLU({ name: 'g1_fc_relu' }).apply(h) as ST;
  h = upBlock(s, h, cfg.ngf1 / 2, 'g1_up1');
  h = upBlock(s, h, cfg.ngf1 / 4, 'g1_up2');
  const img = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'g1_img',
    kernelInitializer: s.normal(0.02) }).apply(h) as ST;
  return tf.model({ inputs: [c, z], outputs: img, name: 'stage1_g' });
}

/** Stage-II generator: [Stage-I image, c] -> (4 base) x (4 base) RGB in [-1, 1]. */
export function stage2Generator(cfg: StackGanConfig, s: InitSeeds): tf.LayersModel {
  const img1 = tf.input({ shape: [cfg.base, cfg.base, 3], name: 'g2_img1' });
  const c = tf.input({ shape: [cfg.cDim], name: 'g2_c' });
  const w = cfg.ngf2 * 2;
  let h = downBlock(s, img1, w, 'g2_down1', false);
  const side = cfg.base / 2;
  h = tf.layers.concatenate({ name: 'g2_join' }).apply([h, tileVector(c, cfg.cDim, side, 'g2_ctile')]) as ST;
  h = conv(s, w, 3, 1, 'g2_joint').apply(h) as ST;
  h = bn('g2_joint_bn').apply(h) as ST;
  h = tf.layers.reLU({ name: 'g2_joint_relu' }).apply(h) as ST;
  for (let i = 0; i < cfg.resBlocks; i++) h = resBlock(s, h, w, `g2_res${i}`);
  h = upBlock(s, h, cfg.ngf2, 'g2_up1');
  h = upBlock(s, h, cfg.ngf2 / 2, 'g2_up2');
  // the last upsampling's conv is the output conv (no BN/ReLU after the last conv, as in the paper):
  // a further conv at full resolution would cost more than the rest of the generator
  h = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: 'g2_up3_up' }).apply(h) as ST;
  const img = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'g2_img',
    kernelInitializer: s.normal(0.02) }).apply(h) as ST;
  return tf.model({ inputs: [img1, c], outputs: img, name: 'stage2_g' });
}

/**
 * Text-conditioned discriminator: downsampling blocks to 4x4, the compressed text embedding
 * replicated over the grid and joined, 1x1 conv, then a 4x4 conv to one logit (no sigmoid).
 */
export function discriminator(cfg: StackGanConfig, size: number, widths: number[], name: string, s: InitSeeds): tf.LayersModel {
  const img = tf.input({ shape: [size, size, 3], name: `${name}_img` });
  const phi = tf.input({ shape: [cfg.textDim], name: `${name}_phi` });
  let h: ST = img;
  widths.forEach((f, i) => { h = downBlock(s, h, f, `${name}_down${i + 1}`, i > 0); });
  const side = size / 2 ** widths.length;
  if (side !== 4) throw new Error(`discriminator ${name}: ${widths.length} downsamplings of ${size} leave ${side}x${side}, not 4x4`);
  let t = tf.layers.dense({ units: cfg.dText, name: `${name}_text`, kernelInitializer: s.glorot() }).apply(phi) as ST;
  t = tf.layers.leakyReLU({ alpha: LEAK, name: `${name}_text_lrelu` }).apply(t) as ST;
  h = tf.layers.concatenate({ name: `${name}_join` }).apply([h, tileVector(t, cfg.dText, 4, `${name}_ttile`)]) as ST;
  const last = widths[widths.length - 1];
  h = conv(s, last, 1, 1, `${name}_joint`).apply(h) as ST;
  h = bn(`${name}_joint_bn`).apply(h) as ST;
  h = tf.layers.leakyReLU({ alpha: LEAK, name: `${name}_joint_lrelu` }).apply(h) as ST;
  h = conv(s, 1, 4, 1, `${name}_logit`, { bias: true, padding: 'valid' }).apply(h) as ST;
  const logit = tf.layers.flatten({ name: `${name}_flat` }).apply(h) as ST;
  return tf.model({ inputs: [img, phi], outputs: logit, name });
}

export function stage1Discriminator(cfg: StackGanConfig, s: InitSeeds): tf.LayersModel {
  return discriminator(cfg, cfg.base, [cfg.ndf1, cfg.ndf1 * 2], 'stage1_d', s);
}

export function stage2Discriminator(cfg: StackGanConfig, s: InitSeeds): tf.LayersModel {
  return discriminator(cfg, cfg.base * 4, [cfg.ndf2, cfg.ndf2 * 2, cfg.ndf2 * 4, cfg.ndf2 * 4], 'stage2_d', s);
}

export interface StackGanNets {
  text: tf.LayersModel;
  ca1: tf.LayersModel;
  g1: tf.LayersModel;
  d1: tf.LayersModel;
  ca2: tf.LayersModel;
  g2: tf.LayersModel;
  d2: tf.LayersModel;
}

/** All networks, their initial weights drawn from `seed` (same seed, same weights). */
export function stackGanNets(cfg: StackGanConfig, vocabSize: number, seed: number | InitSeeds): StackGanNets {
  const s = typeof seed === 'number' ? new InitSeeds(seed) : seed;
  return {
    text: textEncoder(cfg, vocabSize, s),
    ca1: conditioningAugmentation(cfg, 'ca1', s),
    g1: stage1Generator(cfg, s),
    d1: stage1Discriminator(cfg, s),
    ca2: conditioningAugmentation(cfg, 'ca2', s),
    g2: stage2Generator(cfg, s),
    d2: stage2Discriminator(cfg, s),
  };
}

/**
 * The serving graph: tokens, z, eps -> [Stage-I image, Stage-II image]. Both conditioning
 * augmentations read the same eps, so (text, seed) fixes both images.
 */
export function servingModel(cfg: StackGanConfig, nets: StackGanNets): tf.LayersModel {
  const tokens = tf.input({ shape: [cfg.maxTokens], dtype: 'int32', name: 'tokens' });
  const z = tf.input({ shape: [cfg.zDim], name: 'z' });
  const eps = tf.input({ shape: [cfg.cDim], name: 'eps' });
  const phi = nets.text.apply(tokens) as ST;
  const c1 = (nets.ca1.apply([phi, eps]) as ST[])[0];
  const img1 = nets.g1.apply([c1, z]) as ST;
  const c2 = (nets.ca2.apply([phi, eps]) as ST[])[0];
  const img2 = nets.g2.apply([img1, c2]) as ST;
  return tf.model({ inputs: [tokens, z, eps], outputs: [img1, img2], name: 'stackgan' });
}
