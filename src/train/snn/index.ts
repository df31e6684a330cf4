// Self-normalizing network building blocks (SELU, LeCun-normal init, alpha dropout).
export { SELU_ALPHA, SELU_LAMBDA, SELU_SATURATION, SELU_ACTIVATION, selu, seluScalar } from './selu.ts';
export { LeCunNormal, lecunNormal } from './init.ts';
export { AlphaDropout, alphaDropout, alphaDropoutLayer, alphaDropoutParams, setAlphaDropoutStep } from './alpha-dropout.ts';
export { seluDense } from './dense.ts';
