// Public surface of src/runtime.
export { Runtime, DEFAULTS, type DetectPlan } from './runtime.ts';
export { preprocess, pixelLayout, DEFAULT_MAX_INPUT_PIXELS, type PixelLayout, type Preprocessed, type PreprocessOptions } from './preprocess.ts';
export { isRawImage, type RawImage } from './raw-image.ts';
export { parseEps, KNOWN_EPS, type EpName } from './ep.ts';
export { threadPlan, type ThreadPlan } from './sessions.ts';
export { runCeiling, type CeilingOptions, type CeilingResult } from './ceiling.ts';
export * from './types.ts';
