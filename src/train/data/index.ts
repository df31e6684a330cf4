// Public surface of the data layer (loaders, generator, taxonomy).
export type * from './types.ts';
export { openDataset, openClassification, parseDataSpec, detectFormat, DataSpecError, SPEC_HELP, type OpenOptions, type DataSpec } from './open.ts';
export { synthDetection, synthClassification, type SynthDatasetOptions } from './synth-datasets.ts';
export { synthScene, describe, type Scene, type SceneObject, type SceneOptions } from './synth.ts';
export { synthCaptionScene, positionOf, type CaptionScene, type CaptionObject, type CaptionSceneOptions, type Position, type Relation } from './caption-scenes.ts';
export { SHAPE_CLASSES, COARSE_CLASSES, FINE_NAMES, COARSE_NAMES, FINE_TO_COARSE, COLOURS, synthTaxonomy, type ShapeClass, type CoarseClass, type Synset, type SynthTaxonomy } from './classes.ts';
export { openVoc, parseVocXml, VOC_NAMES } from './voc.ts';
export { openCoco } from './coco.ts';
export { openYolo, parseYoloLabels } from './yolo.ts';
export { openImageFolder } from './imagefolder.ts';
export { decodeRgb, encodePng, encodeJpeg, imageSize } from './image.ts';
export { evaluateDetector, datasetClassOf, type Detector, type PredictedBox, type EvaluateOptions, type EvaluateResult } from './evaluate.ts';
