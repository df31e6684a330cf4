// Pascal VOC folders: Annotations/*.xml + JPEGImages/, optionally ImageSets/Main/<split>.txt.
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { imageFileDataset } from './file-dataset.ts';
import { isDir, isFile } from './files.ts';
import type { DetectionDataset, GroundTruth } from './types.ts';

/** darknet's data/voc.names order: models trained on VOC use these ids. */
export const VOC_NAMES: readonly string[] = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

export interface VocObject {
  name: string;
  difficult: boolean;
  /** VOC's 1-based inclusive pixel corners */
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export interface VocAnnotation {
  filename?: string;
  width?: number;
  height?: number;
  objects: VocObject[];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'object',
});

function num(v: unknown, what: string): number {
  const n = typeof v === 'string' || typeof v === 'number' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${what} is not a number: ${JSON.stringify(v)}`);
  return n;
}

/** Parses one VOC annotation file's text. Throws with the offending field named. */
export function parseVocXml(xml: string): VocAnnotation {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml, true) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`malformed XML: ${(e as Error).message}`, { cause: e });
  }
  const ann = doc.annotation as Record<string, unknown> | undefined;
  if (!ann || typeof ann !== 'object') throw new Error('no <annotation> root element');
  const size = ann.size as Record<string, unknown> | undefined;
  const objects: VocObject[] = [];
  for (const raw of (ann.object as Record<string, unknown>[] | undefined) ?? []) {
    const name = typeof raw.name === 'string' ? raw.name.trim() : '';
    if (!name) throw new Error('<object> without <name>');
    const b = raw.bndbox as Record<string, unknown> | undefined;
    if (!b) throw new Error(`<object> "${name}" without <bndbox>`);
    const o: VocObject = {
      name,
      difficult: raw.difficult !== undefined && num(raw.difficult, 'difficult') !== 0,
      xmin: num(b.xmin, 'xmin'),
      ymin: num(b.ymin, 'ymin'),
      xmax: num(b.xmax, 'xmax'),
      ymax: num(b.ymax, 'ymax'),
    };
    if (o.xmax < o.xmin || o.ymax < o.ymin) throw new Error(`<object> "${name}" has xmax < xmin or ymax < ymin`);
    objects.push(o);
  }
  return {
    filename: typeof ann.filename === 'string' && ann.filename ? ann.filename : undefined,
    width: size?.width !== undefined ? num(size.width, 'width') : undefined,
    height: size?.height !== undefined ? num(size.height, 'height') : undefined,
    objects,
  };
}

/**
 * VOC's corners are 1-based and inclusive: pixel xmin..xmax covers [xmin - 1, xmax) in continuous
 * 0-based coordinates, which is what our boxes use (and what VOC's own area, xmax - xmin + 1, counts).
 */
export function vocToBox(o: VocObject, classId: number): GroundTruth {
  return { classId, x1: o.xmin - 1, y1: o.ymin - 1, x2: o.xmax, y2: o.ymax, ...(o.difficult ? { difficult: true } : {}) };
}

/** Names: the caller's, else VOC's 20 in darknet order when they cover the data, else sorted. */
function chooseNames(found: Set<string>, given?: readonly string[]): string[] {
  if (given) return [...given];
  if ([...found].every((n) => VOC_NAMES.includes(n))) return [...VOC_NAMES];
  return [...found].sort();
}

export interface VocOptions {
  /** ImageSets/Main/<split>.txt lists the image ids (default: every annotation file) */
  split?: string;
  /** class list; objects of other classes are left out */
  names?: readonly string[];
}

export async function openVoc(dir: string, opts: VocOptions = {}): Promise<DetectionDataset> {
  const annDir = join(dir, 'Annotations');
  if (!(await isDir(annDir))) throw new Error(`${dir} is not a Pascal VOC folder (no Annotations/ inside)`);
  let ids: string[];
  if (opts.split) {
    const list = join(dir, 'ImageSets', 'Main', `${opts.split}.txt`);
    if (!(await isFile(list))) throw new Error(`VOC split "${opts.split}" not found: no ${list}`);
    // lines may carry a second column (per-class lists: "id  1")
    ids = (await readFile(list, 'utf8')).split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
  } else {
    ids = (await readdir(annDir)).filter((f) => extname(f).toLowerCase() === '.xml').map((f) => basename(f, extname(f))).sort();
  }
  if (ids.length === 0) throw new Error(`no annotations in ${annDir}${opts.split ? ` for split ${opts.split}` : ''}`);

  const anns = await Promise.all(
    ids.map(async (id) => {
      const file = join(annDir, `${id}.xml`);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new Error(`VOC annotation missing: ${file}`);
      }
      try {
        return parseVocXml(text);
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
      }
    }),
  );
  const found = new Set(anns.flatMap((a) => a.objects.map((o) => o.name)));
  const names = chooseNames(found, opts.names);
  const index = new Map(names.map((n, i) => [n, i]));
  const imgDir = join(dir, 'JPEGImages');
  const paths = await Promise.all(
    ids.map(async (id, i) => {
      const candidates = [anns[i].filename, `${id}.jpg`, `${id}.jpeg`, `${id}.png`].filter((f): f is string => !!f);
      for (const f of candidates) if (await isFile(join(imgDir, f))) return join(imgDir, f);
      throw new Error(`VOC image for ${id} not found in ${imgDir} (tried ${candidates.join(', ')})`);
    }),
  );
  const boxes = anns.map((a) => a.objects.filter((o) => index.has(o.name)).map((o) => vocToBox(o, index.get(o.name)!)));

  return imageFileDataset({ names, paths, id: (i) => ids[i], boxes: (i) => boxes[i].map((b) => ({ ...b })) });
}
