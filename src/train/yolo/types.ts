// What the losses see of one training image after preprocessing: boxes as fractions of the network
// input (after letterbox/resize and augmentation), centre form.

export interface TruthBox {
  x: number;
  y: number;
  w: number;
  h: number;
  /** class index (a tree node index for YOLO9000) */
  cls: number;
}

/**
 * Which predictor learns a YOLO9000 classification image's label: 'probability' (the paper's and
 * darknet's rule: the one giving the label the highest objectness x class probability) or 'objectness'
 * (the one the detector itself would report: highest objectness, whatever it now says of the class).
 */
export type ClsPick = 'objectness' | 'probability';
export const CLS_PICKS: readonly ClsPick[] = ['objectness', 'probability'];

/** One image of a batch: detection boxes, or for YOLO9000's classification images only a label. */
export interface TrainTarget {
  boxes: TruthBox[];
  /** set for classification-only images: the class (tree node) seen somewhere in the image */
  label?: number;
}

/** Running figures darknet prints per batch; shown in the progress bar and logs. */
export interface LossStats {
  avgIou: number;
  recall: number;
  avgObj: number;
  avgNoobj: number;
  avgCat: number;
  count: number;
}
