// The types a detection job carries from the runtime's door down to the decoders, and the detections
// that come back. They belong to the floor that computes them: src/runtime and src/server build on them.

/** YOLO9000 box scoring: darknet's `detector test` (top) or its `valid` with a class map (classes); see TreeScoring */
export type TreeScores = 'top' | 'classes';
export const TREE_SCORES: readonly TreeScores[] = ['top', 'classes'];

/** A detection request's parameters as a caller states them (any field left out takes the model's default). */
export interface DetectParams {
  /** score threshold (darknet: objectness*class prob > thresh); default .25 */
  thresh?: number;
  /** NMS IoU threshold; default per model (.45 region, .4 yolov1) */
  nms?: number;
  /** yolo9000 hierarchy threshold; default the model's, else .5 */
  hier?: number;
  /**
   * yolo9000: 'top' (default) reports one node per box scored by objectness; 'classes' scores every node
   * in `classes` (every leaf if none) by objectness * path probability, as for mAP
   */
  treeScores?: TreeScores;
  /** at most this many detections, best first */
  maxDet?: number;
  /** keep only these class ids */
  classes?: number[];
  /** class-agnostic NMS */
  agnostic?: boolean;
}

/**
 * DetectParams checked against one model and completed with its defaults (vision/params.ts). Everything
 * below the runtime's door takes these as they are.
 */
export interface ResolvedParams {
  thresh: number;
  nms: number;
  hier: number;
  maxDet: number;
  treeScores: TreeScores;
  /** class ids of the model, sorted and distinct; undefined keeps every class */
  classes?: readonly number[];
  agnostic: boolean;
  /** entries per class entering NMS (see NmsOptions.preNmsTopK) */
  preNmsTopK?: number;
  /** clip boxes to the image; off by default because darknet reports unclipped boxes */
  clip: boolean;
}

export interface ImageSize {
  width: number;
  height: number;
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Detection {
  class_id: number;
  class: string;
  score: number;
  box: Box;
  /** yolo9000: WordTree path from the root to the predicted node, as names */
  path?: string[];
}
