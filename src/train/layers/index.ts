// Pinhole's custom tfjs layers and activations. Importing this module registers them with tfjs's
// serialization registry (needed to build, save and load models that use them).
export { Reorg, reorg, reorgNchwPlan, reorgPermutation } from './reorg.ts';
export type { ReorgArgs } from './reorg.ts';
export { SeluAlphaDropout, seluAlphaDropout } from './alpha-dropout.ts';
export type { AlphaDropoutArgs } from './alpha-dropout.ts';
export { LeakyReluActivation, leakyRelu, LEAKY_ALPHA } from './activations.ts';
