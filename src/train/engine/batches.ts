// Building one training batch from dataset samples: used inside the input-pipeline worker (and in
// process when asked). A batch is fully determined by its request, so results do not depend on timing.
import { openClassification, openDataset } from '../data/open.ts';
import type { ClassificationDataset, DetectionDataset } from '../data/types.ts';
import type { PreprocessMode } from '../../vision/letterbox.ts';
import { DEFAULT_AUGMENT, prepareImage, type AugmentOptions, type PlacedBox } from './augment.ts';
import { stream } from './rng.ts';

export interface SourceConfig {
  /** detection dataset spec (openDataset); absent for classification-only training */
  det?: string;
  /** classification dataset spec (openClassification), YOLO9000 joint training */
  cls?: string;
  mode: PreprocessMode;
  seed: number;
  augment: AugmentOptions | null;
  /**
   * scale range of classification images instead of augment.scale: placed smaller, their object has the
   * sizes the detection scenes' objects have, so the small anchors learn the fine labels too
   */
  clsScale?: [number, number];
}

export interface BatchItem {
  src: 'det' | 'cls';
  index: number;
}

export interface BatchRequest {
  id: number;
  size: number;
  items: BatchItem[];
  /** (epoch, step): the augmentation stream of item k is stream(seed, 'aug', epoch, step, k) */
  epoch: number;
  step: number;
}

export interface BatchTarget {
  boxes: PlacedBox[];
  /** classification images: the dataset label */
  label?: number;
}

export interface Batch {
  id: number;
  size: number;
  /** n x size x size x 3 */
  pixels: Float32Array;
  targets: BatchTarget[];
}

export interface Sources {
  det?: DetectionDataset;
  cls?: ClassificationDataset;
}

export async function openSources(c: Pick<SourceConfig, 'det' | 'cls'>): Promise<Sources> {
  return { det: c.det ? await openDataset(c.det) : undefined, cls: c.cls ? await openClassification(c.cls) : undefined };
}

export async function makeBatch(src: Sources, cfg: SourceConfig, req: BatchRequest): Promise<Batch> {
  const n = req.items.length;
  const S = req.size;
  const pixels = new Float32Array(n * S * S * 3);
  const targets: BatchTarget[] = [];
  const aug = cfg.augment ?? DEFAULT_AUGMENT;
  const clsAug = cfg.clsScale ? { ...aug, scale: cfg.clsScale } : aug;
  for (let k = 0; k < n; k++) {
    const it = req.items[k];
    const rng = cfg.augment ? stream(cfg.seed, 'aug', req.epoch, req.step, k) : undefined;
    if (it.src === 'det') {
      if (!src.det) throw new Error('batch asks for a detection image but no detection set is open');
      const s = await src.det.get(it.index);
      targets.push({ boxes: prepareImage(s.rgb, s.width, s.height, s.boxes, S, cfg.mode, pixels, k * S * S * 3, rng, aug) });
    } else {
      if (!src.cls) throw new Error('batch asks for a classification image but no classification set is open');
      const s = await src.cls.get(it.index);
      prepareImage(s.rgb, s.width, s.height, [], S, cfg.mode, pixels, k * S * S * 3, rng, clsAug);
      targets.push({ boxes: [], label: s.label });
    }
  }
  return { id: req.id, size: S, pixels, targets };
}
