// What the StackGAN is trained on and how big it is. The caption set is the data generator's
// one-object caption scenes ("a red circle in the top left") restricted to shapes that stay
// distinguishable at the base resolution; a fixed share of the (colour, shape, position) combinations
// is held out of training entirely, so their captions are never seen by any trained part.
import { COLOURS, FINE_NAMES } from '../../data/classes.ts';
import type { Position } from '../../data/caption-scenes.ts';
import { hash32 } from '../../data/rng.ts';

export const CAPTION_SHAPES: readonly string[] = ['circle', 'square', 'equilateral triangle', 'star', 'cross', 'heart'];
export const CAPTION_COLOURS: readonly string[] = COLOURS.filter((c) => c.name !== 'white').map((c) => c.name);
export const CAPTION_POSITIONS: readonly Position[] = [
  'top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', 'bottom', 'bottom right',
];
export const CAPTION_CLASS_IDS: readonly number[] = CAPTION_SHAPES.map((s) => {
  const id = FINE_NAMES.indexOf(s);
  if (id < 0) throw new Error(`caption shape "${s}" is not a scene class`);
  return id;
});

export interface Attributes {
  colour: number;
  shape: number;
  position: number;
}

/** Share of attribute combinations held out of training (the "unseen captions"). */
export const HELD_OUT_SHARE = 0.15;

/** Whether the combination is held out: a fixed hash, the same on every run and machine. */
export function isHeldOut(a: Attributes): boolean {
  return hash32(0x5eed, a.colour, a.shape, a.position) / 4294967296 < HELD_OUT_SHARE;
}

export function allCombinations(): Attributes[] {
  const out: Attributes[] = [];
  for (let colour = 0; colour < CAPTION_COLOURS.length; colour++) {
    for (let shape = 0; shape < CAPTION_SHAPES.length; shape++) {
      for (let position = 0; position < CAPTION_POSITIONS.length; position++) out.push({ colour, shape, position });
    }
  }
  return out;
}

export interface StackGanConfig {
  /** Stage-I side (pixels); Stage-II is 4x */
  base: number;
  /** noise z */
  zDim: number;
  /** conditioning vector c (conditioning augmentation output) */
  cDim: number;
  /** text embedding phi_t */
  textDim: number;
  /** token ids per caption */
  maxTokens: number;
  /** word embedding width */
  wordDim: number;
  /** compressed text width inside the discriminators (StackGAN's N_d) */
  dText: number;
  /** generator / discriminator base widths */
  ngf1: number;
  ndf1: number;
  ngf2: number;
  ndf2: number;
  /** Stage-II residual blocks */
  resBlocks: number;
  /** KL weight (StackGAN's lambda) */
  klWeight: number;
  lr: number;
  beta1: number;
  batch: number;
  /**
   * Run each discriminator once per update on real, mismatched and generated images together, so its
   * batch norm normalises them with shared statistics. false: one pass per group, as the reference
   * implementation does; that hides a batch-wide offset of the generated images from it (their too
   * light background), but switching a trained Stage-II over to joint batches wrecked its images
   * within 500 steps (a much stronger discriminator against the small generator), so it stays opt-in.
   */
  jointDBatch: boolean;
}

export const DEFAULT_CONFIG: StackGanConfig = {
  base: 16,
  zDim: 32,
  cDim: 32,
  textDim: 64,
  maxTokens: 10,
  wordDim: 16,
  dText: 32,
  ngf1: 64,
  ndf1: 32,
  ngf2: 16,
  ndf2: 16,
  resBlocks: 2,
  klWeight: 1,
  lr: 2e-4,
  beta1: 0.5,
  batch: 32,
  jointDBatch: false,
};
