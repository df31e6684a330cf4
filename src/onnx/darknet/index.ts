// Darknet import: cfg + weights -> ONNX graph -> model folder.
export { DarknetError } from './errors.ts';
export { parseCfg, readCfg, paramLayout } from './cfg.ts';
export type { DarknetNet, Layer, Dims, RegionLayer, DetectionLayer, Activation } from './cfg.ts';
export { readWeights, parseWeights, parseHeader, weightFloats } from './weights.ts';
export type { DarknetWeights, WeightsHeader, LayerParams } from './weights.ts';
export { darknetToOnnx, INPUT_NAME, OUTPUT_NAME } from './import.ts';
export type { DarknetOnnx } from './import.ts';
export { readNames, readTree, parseTree, genericNames } from './labels.ts';
export { importDarknet, convertDarknet } from './folder.ts';
export type { DarknetImportOptions, DarknetImportResult } from './folder.ts';
