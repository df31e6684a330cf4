// Pinhole's custom tfjs layers and activations. Importing this module registers them with tfjs's
// serialization registry (needed to build, save and load models that use them).
// (SELU alpha dropout lives with the other SNN pieces in ../snn/.)
export { Reorg, reorg } from './reorg.ts';
export type { ReorgArgs } from './reorg.ts';
export { LeakyReluActivation, leakyRelu } from './activations.ts';
