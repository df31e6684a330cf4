// Public surface of the face-api importer.
export { FaceApiError } from './errors.ts';
export { convertFaceApi, importFaceApi, checkSize, DEFAULT_SIZE, FACEAPI_ANCHORS, FACEAPI_MEAN_RGB, type FaceApiImportOptions, type FaceApiImportResult } from './folder.ts';
export { recogniseArch, buildGraph, gridSize, type FaceApiArch } from './network.ts';
export { loadWeights, findManifest, DEFAULT_MANIFEST, type LoadedWeights } from './weights.ts';
