// COCO detection JSON + an image folder. Category ids (sparse in COCO: 1..90 for 80 classes) are
// remapped to contiguous indices in id order; crowd regions become ignored ("difficult") boxes.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { imageFileDataset } from './file-dataset.ts';
import { isFile } from './files.ts';
import type { DetectionDataset, GroundTruth } from './types.ts';

interface CocoImage {
  id: number | string;
  file_name: string;
  width?: number;
  height?: number;
}

interface CocoAnnotation {
  image_id: number | string;
  category_id: number;
  bbox: [number, number, number, number];
  iscrowd?: number;
  ignore?: number;
}

interface CocoCategory {
  id: number;
  name: string;
}

function fail(file: string, msg: string): never {
  throw new Error(`${file}: ${msg}`);
}

export interface CocoOptions {
  /** class list (by name); annotations of other categories are left out */
  names?: readonly string[];
}

/** Image folders to try when the spec names none: beside the JSON, or COCO's own layout. */
export function cocoImageDirCandidates(jsonPath: string): string[] {
  const d = dirname(jsonPath);
  const stem = jsonPath.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
  const split = stem.replace(/^(instances|image_info)_/, '');
  return [join(d, 'images'), d, join(d, '..', 'images'), join(d, '..', split), join(d, '..', 'images', split)];
}

export async function openCoco(jsonPath: string, imageDir?: string, opts: CocoOptions = {}): Promise<DetectionDataset> {
  let doc: { images?: unknown; annotations?: unknown; categories?: unknown };
  try {
    doc = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'ENOENT' ? `COCO annotation file not found: ${jsonPath}` : `${jsonPath}: not valid JSON (${err.message})`);
  }
  if (!doc || typeof doc !== 'object') fail(jsonPath, 'not a COCO object');
  if (!Array.isArray(doc.images)) fail(jsonPath, 'no "images" array');
  if (!Array.isArray(doc.categories)) fail(jsonPath, 'no "categories" array');
  const images = doc.images as CocoImage[];
  const cats = [...(doc.categories as CocoCategory[])];
  const anns = (Array.isArray(doc.annotations) ? doc.annotations : []) as CocoAnnotation[];
  for (const c of cats) {
    if (typeof c?.id !== 'number' || typeof c?.name !== 'string') fail(jsonPath, `bad category ${JSON.stringify(c)}`);
  }
  cats.sort((a, b) => a.id - b.id);
  const names = opts.names ? [...opts.names] : cats.map((c) => c.name);
  const byName = new Map(names.map((n, i) => [n, i]));
  const catToClass = new Map<number, number | undefined>(cats.map((c) => [c.id, byName.get(c.name)]));

  const byImage = new Map<number | string, GroundTruth[]>();
  for (const im of images) {
    if ((typeof im?.id !== 'number' && typeof im?.id !== 'string') || typeof im.file_name !== 'string') fail(jsonPath, `bad image entry ${JSON.stringify(im)}`);
    byImage.set(im.id, []);
  }
  for (const a of anns) {
    const list = byImage.get(a?.image_id);
    if (!list) fail(jsonPath, `annotation for unknown image_id ${JSON.stringify(a?.image_id)}`);
    if (!catToClass.has(a.category_id)) fail(jsonPath, `annotation with unknown category_id ${a.category_id}`);
    const cls = catToClass.get(a.category_id);
    if (cls === undefined) continue; // not in the requested names
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v)) || b[2] < 0 || b[3] < 0) {
      fail(jsonPath, `bad bbox ${JSON.stringify(b)} (expected [x, y, width, height])`);
    }
    const crowd = a.iscrowd === 1 || a.ignore === 1;
    list.push({ classId: cls, x1: b[0], y1: b[1], x2: b[0] + b[2], y2: b[1] + b[3], ...(crowd ? { difficult: true } : {}) });
  }

  let dir = imageDir;
  if (!dir) {
    const first = images[0]?.file_name;
    for (const c of cocoImageDirCandidates(jsonPath)) {
      if (first !== undefined && (await isFile(join(c, first)))) {
        dir = c;
        break;
      }
    }
    if (!dir) throw new Error(`cannot find the images of ${jsonPath}: give the folder as coco:${jsonPath}:IMAGEDIR`);
  }
  const paths = images.map((im) => join(dir!, im.file_name));
  if (images.length > 0 && !(await isFile(paths[0]))) throw new Error(`COCO image not found: ${paths[0]}`);

  return imageFileDataset({
    names, paths, id: (i) => String(images[i].id), boxes: (i) => byImage.get(images[i].id)!.map((b) => ({ ...b })),
  });
}
