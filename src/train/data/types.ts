// Dataset shapes shared by the loaders, the scene generator, training and `pinhole eval`.

/** A ground-truth box in pixels of its image; classId indexes the dataset's `names`. */
export interface GroundTruth {
  classId: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** VOC "difficult": ignored by mAP (neither a hit nor a miss) */
  difficult?: boolean;
}

/** One image, decoded to 8-bit RGB, HWC, row-major. */
export interface DetectionSample {
  id: string;
  width: number;
  height: number;
  rgb: Uint8Array;
  boxes: GroundTruth[];
  /** generated scenes carry a caption ("a small red triangle above a large blue circle") */
  caption?: string;
}

export interface DetectionDataset {
  /** class names; index = classId */
  names: string[];
  size: number;
  get(index: number): Promise<DetectionSample>;
  /** encoded image file (for feeding the real serving pipeline in `pinhole eval`), when the source has one */
  file?(index: number): Promise<Uint8Array>;
}

/** Image-level labels (YOLO9000 joint training): labels may be finer than the detection names. */
export interface ClassificationSample {
  id: string;
  width: number;
  height: number;
  rgb: Uint8Array;
  /** index into the classification set's `names` */
  label: number;
  /** where the labelled object is, when known (generated sets); joint training does not need it */
  box?: { x1: number; y1: number; x2: number; y2: number };
}

export interface ClassificationDataset {
  names: string[];
  size: number;
  get(index: number): Promise<ClassificationSample>;
}
