// The generated scenes as datasets: `synth` (fine labels, YOLOv1/v2), `synth9k` (the same scenes with
// coarse labels, YOLO9000's detection half) and the fine-labelled classification set (YOLO9000's
// classification half: one object per image).
import { COARSE_NAMES, FINE_NAMES, FINE_TO_COARSE } from './classes.ts';
import { encodePng } from './image.ts';
import { defined, STREAM, synthScene, type SceneOptions } from './synth.ts';
import type { ClassificationDataset, DetectionDataset, DetectionSample } from './types.ts';

export interface SynthDatasetOptions extends SceneOptions {
  /** 'fine' (default): the 16 shape classes; 'coarse': their WordNet hypernyms (synth9k) */
  labels?: 'fine' | 'coarse';
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`dataset size must be a positive integer, got ${count}`);
}

function checkIndex(index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`index ${index} out of range [0, ${size})`);
}

export function synthDetection(seed: number, count: number, opts: SynthDatasetOptions = {}): DetectionDataset {
  checkCount(count);
  const { labels = 'fine', ...sceneOpts } = opts;
  const coarse = labels === 'coarse';
  synthScene(seed, 0, { ...sceneOpts, maxObjects: 1 }); // validates seed and options up front
  const sample = (index: number): DetectionSample => {
    checkIndex(index, count);
    const s = synthScene(seed, index, sceneOpts);
    return {
      id: `synth-${seed}-${index}`,
      width: s.width,
      height: s.height,
      rgb: s.rgb,
      boxes: s.objects.map((o) => ({ classId: coarse ? FINE_TO_COARSE[o.classId] : o.classId, ...o.box })),
      caption: s.caption,
    };
  };
  return {
    names: [...(coarse ? COARSE_NAMES : FINE_NAMES)],
    size: count,
    get: async (index) => sample(index),
    file: async (index) => {
      const s = sample(index);
      return encodePng(s.rgb, s.width, s.height);
    },
  };
}

export interface SynthClassificationOptions extends Omit<SceneOptions, 'minObjects' | 'maxObjects'> {}

/** One object per image, 30-75% of the side by default, on the same textured, cluttered backgrounds. */
export function synthClassification(seed: number, count: number, opts: SynthClassificationOptions = {}): ClassificationDataset {
  checkCount(count);
  const sceneOpts: SceneOptions = { minSize: 0.3, maxSize: 0.75, ...defined(opts), minObjects: 1, maxObjects: 1 };
  synthScene(seed, 0, sceneOpts, STREAM.classification);
  return {
    names: [...FINE_NAMES],
    size: count,
    get: async (index) => {
      checkIndex(index, count);
      // placement can fail (rarely) for large rotated shapes: redraw from a derived stream until it fits
      for (let r = 0; ; r++) {
        const s = synthScene(seed, index, sceneOpts, STREAM.classification + r * 0x10000);
        if (s.objects.length === 1) {
          const o = s.objects[0];
          return { id: `synthcls-${seed}-${index}`, width: s.width, height: s.height, rgb: s.rgb, label: o.classId, box: o.box };
        }
      }
    },
  };
}
