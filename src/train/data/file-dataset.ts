// A detection dataset over image files on disk, the part the COCO, VOC and YOLO-folder loaders share:
// they differ only in where the images are, what a sample is called and where its boxes come from.
import { readFile } from 'node:fs/promises';
import { checkIndex } from './files.ts';
import { decodeRgb, type RgbImage } from './image.ts';
import type { DetectionDataset, GroundTruth } from './types.ts';

export interface ImageFiles {
  names: string[];
  /** image file of each sample */
  paths: string[];
  id(index: number): string;
  /**
   * Boxes of a sample in pixels of its decoded image; fresh objects on every call (training mutates
   * the boxes it is given).
   */
  boxes(index: number, image: RgbImage): GroundTruth[] | Promise<GroundTruth[]>;
}

export function imageFileDataset(f: ImageFiles): DetectionDataset {
  const size = f.paths.length;
  return {
    names: f.names,
    size,
    get: async (i) => {
      checkIndex(i, size);
      const img = await decodeRgb(f.paths[i]);
      return { id: f.id(i), ...img, boxes: await f.boxes(i, img) };
    },
    file: async (i) => {
      checkIndex(i, size);
      return new Uint8Array(await readFile(f.paths[i]));
    },
  };
}
