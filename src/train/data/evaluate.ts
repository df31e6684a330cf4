// Runs a detector over a dataset and scores it (VOC mAP@0.5, COCO mAP). The detector sees each
// image as an encoded file, as a user's request would; predicted classes are matched to the
// dataset's classes by name (through the WordTree path for YOLO9000, so a model that says "square"
// scores on a set labelled "quadrilateral").
import { evaluateDetections, type DetectionMetrics, type Prediction, type Truth } from '../../vision/map.ts';
import { encodePng } from './image.ts';
import type { DetectionDataset, DetectionSample } from './types.ts';

export interface PredictedBox {
  class: string;
  score: number;
  box: { x1: number; y1: number; x2: number; y2: number };
  /** WordTree path, root first (YOLO9000) */
  path?: string[];
}

/** Gets the encoded image (and the decoded sample, for reference) and returns boxes in its pixels. */
export type Detector = (image: Uint8Array, sample: DetectionSample) => Promise<PredictedBox[]>;

export interface EvaluateOptions {
  /** the model's class names: dataset classes it does not know are left out (and reported) */
  modelNames?: readonly string[];
  /** evaluate the first N images only */
  limit?: number;
  /** images in flight at once (lets a batching runtime form batches); default 8 */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvaluateResult {
  metrics: DetectionMetrics;
  images: number;
  /** ground-truth boxes of the evaluated classes (difficult ones included) */
  objects: number;
  /** dataset classes the model has no name for: left out of the scores */
  unknownClasses: string[];
}

/** The dataset class a prediction counts as: its own name, else the deepest ancestor that is one. */
export function datasetClassOf(p: Pick<PredictedBox, 'class' | 'path'>, index: ReadonlyMap<string, number>): number | undefined {
  const own = index.get(p.class);
  if (own !== undefined) return own;
  if (p.path) for (let k = p.path.length - 1; k >= 0; k--) {
    const c = index.get(p.path[k]);
    if (c !== undefined) return c;
  }
  return undefined;
}

export async function evaluateDetector(ds: DetectionDataset, detect: Detector, opts: EvaluateOptions = {}): Promise<EvaluateResult> {
  const total = Math.min(ds.size, opts.limit ?? ds.size);
  if (!(total >= 1)) throw new RangeError('nothing to evaluate: the dataset is empty');
  const unknown = opts.modelNames ? ds.names.filter((n) => !opts.modelNames!.includes(n)) : [];
  if (unknown.length === ds.names.length) {
    throw new Error(`the model's classes and the dataset's share no name (dataset: ${ds.names.slice(0, 8).join(', ')}${ds.names.length > 8 ? ', ...' : ''})`);
  }
  const evaluated = new Set(ds.names.map((_, i) => i).filter((i) => !unknown.includes(ds.names[i])));
  const index = new Map<string, number>();
  ds.names.forEach((n, i) => { if (evaluated.has(i)) index.set(n, i); });

  const truths: Truth[] = [];
  const preds: Prediction[] = [];
  let objects = 0;
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const sample = await ds.get(i);
      const bytes = ds.file ? await ds.file(i) : await encodePng(sample.rgb, sample.width, sample.height);
      const found = await detect(bytes, sample);
      // image ids are the index: dataset ids need not be unique across folders
      const imageId = String(i);
      for (const g of sample.boxes) {
        if (!evaluated.has(g.classId)) continue;
        objects++;
        truths.push({ imageId, classId: g.classId, box: { x1: g.x1, y1: g.y1, x2: g.x2, y2: g.y2 }, difficult: g.difficult });
      }
      for (const d of found) {
        const classId = datasetClassOf(d, index);
        if (classId !== undefined) preds.push({ imageId, classId, score: d.score, box: d.box });
      }
      opts.onProgress?.(++done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 8, total)) }, worker));

  // classes the model does not know got no ground truth above, so they drop out of the means
  const metrics = evaluateDetections(preds, truths, ds.names);
  metrics.perClass = metrics.perClass.filter((c) => evaluated.has(c.classId));
  return { metrics, images: total, objects, unknownClasses: unknown };
}
