// Public surface of src/vision: pure decode, WordTree, NMS and letterbox geometry (no I/O).
export * from './types.ts';
export * from './letterbox.ts';
export * from './candidates.ts';
export * from './wordtree.ts';
export * from './yolov1.ts';
export * from './region.ts';
export * from './nms.ts';
export * from './params.ts';
export * from './postprocess.ts';
export { logistic, softmaxStrided } from './activations.ts';
