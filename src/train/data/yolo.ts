// YOLO txt folders: one .txt per image, lines "class cx cy w h" normalised to [0, 1] (darknet and
// Ultralytics). Layouts: images/ + labels/ mirrors, or labels beside the images; names from
// data.yaml, classes.txt, obj.names or a single *.names file.
import { readdir, readFile } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { imageFileDataset } from './file-dataset.ts';
import { isDir, isFile, listImages, parseNamesFile } from './files.ts';
import type { DetectionDataset, GroundTruth } from './types.ts';

export interface YoloLabel {
  classId: number;
  /** normalised corners */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Parses a label file. Five numbers a line is a box; more (class + x y pairs) is an Ultralytics
 * segment, whose points' extent is the box.
 */
export function parseYoloLabels(text: string, classes: number, where = 'labels'): YoloLabel[] {
  const out: YoloLabel[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const v = t.split(/\s+/).map(Number);
    const bad = (why: string) => new Error(`${where}:${n + 1}: ${why}: "${t}"`);
    if (v.some((x) => !Number.isFinite(x))) throw bad('not a number');
    const cls = v[0];
    if (!Number.isInteger(cls) || cls < 0 || cls >= classes) throw bad(`class ${cls} outside [0, ${classes})`);
    if (v.length === 5) {
      const [, cx, cy, w, h] = v;
      if (w < 0 || h < 0) throw bad('negative size');
      out.push({ classId: cls, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
    } else if (v.length >= 7 && v.length % 2 === 1) {
      const xs = v.filter((_, i) => i > 0 && i % 2 === 1);
      const ys = v.filter((_, i) => i > 0 && i % 2 === 0);
      out.push({ classId: cls, x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) });
    } else {
      throw bad('expected "class cx cy w h"');
    }
  });
  return out;
}

/** data.yaml `names`: a list, or a map from index to name. */
export function yamlNames(text: string, file: string): string[] | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${file}: invalid YAML (${(e as Error).message})`);
  }
  const names = (doc as { names?: unknown } | null)?.names;
  if (names === undefined) return undefined;
  if (Array.isArray(names)) return names.map(String);
  if (names && typeof names === 'object') {
    const entries = Object.entries(names as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)] as const);
    if (entries.some(([k]) => !Number.isInteger(k) || k < 0)) throw new Error(`${file}: names keys must be class indices`);
    const out: string[] = [];
    for (const [k, v] of entries) out[k] = v;
    for (let i = 0; i < out.length; i++) if (out[i] === undefined) throw new Error(`${file}: names has no entry for class ${i}`);
    return out;
  }
  throw new Error(`${file}: names must be a list or a map`);
}

async function findNames(dir: string): Promise<{ names: string[]; yaml?: Record<string, unknown>; yamlFile?: string } | undefined> {
  for (const y of ['data.yaml', 'data.yml', 'dataset.yaml']) {
    const f = join(dir, y);
    if (await isFile(f)) {
      const text = await readFile(f, 'utf8');
      const names = yamlNames(text, f);
      if (names) return { names, yaml: parseYaml(text) as Record<string, unknown>, yamlFile: f };
    }
  }
  for (const n of ['classes.txt', 'obj.names', 'classes.names']) {
    const f = join(dir, n);
    if (await isFile(f)) return { names: parseNamesFile(await readFile(f, 'utf8')) };
  }
  const named = (await readdir(dir)).filter((f) => f.endsWith('.names'));
  if (named.length === 1) return { names: parseNamesFile(await readFile(join(dir, named[0]), 'utf8')) };
  return undefined;
}

/** Ultralytics: the label of .../images/x/a.jpg is .../labels/x/a.txt; darknet: a.txt beside a.jpg. */
async function labelPathFor(image: string): Promise<string | undefined> {
  const stem = image.slice(0, image.length - extname(image).length);
  const parts = stem.split(sep);
  const k = parts.lastIndexOf('images');
  if (k >= 0) {
    const mirrored = [...parts.slice(0, k), 'labels', ...parts.slice(k + 1)].join(sep) + '.txt';
    if (await isFile(mirrored)) return mirrored;
  }
  if (await isFile(`${stem}.txt`)) return `${stem}.txt`;
  return undefined;
}

export interface YoloOptions {
  /** data.yaml key (train/val/test) or a subfolder of images/ (default: all images) */
  split?: string;
  names?: readonly string[];
}

export async function openYolo(dir: string, opts: YoloOptions = {}): Promise<DetectionDataset> {
  if (!(await isDir(dir))) throw new Error(`YOLO dataset folder not found: ${dir}`);
  const found = await findNames(dir);
  const names = opts.names ? [...opts.names] : found?.names;
  if (!names || names.length === 0) throw new Error(`${dir}: no class names (add data.yaml with names, classes.txt or obj.names)`);

  let roots: string[];
  const ySplit = opts.split && found?.yaml ? found.yaml[opts.split] : undefined;
  if (ySplit !== undefined) {
    const yp = found!.yaml!.path;
    const base = typeof yp === 'string' ? (isAbsolute(yp) ? yp : join(dir, yp)) : dir;
    const list = (Array.isArray(ySplit) ? ySplit : [ySplit]).map(String);
    roots = list.map((p) => (isAbsolute(p) ? p : join(base, p)));
  } else if (opts.split) {
    roots = [join(dir, 'images', opts.split), join(dir, opts.split)];
    roots = [(await isDir(roots[0])) ? roots[0] : roots[1]];
  } else {
    roots = [(await isDir(join(dir, 'images'))) ? join(dir, 'images') : dir];
  }
  const images: string[] = [];
  for (const r of roots) {
    if (!(await isDir(r))) throw new Error(`YOLO image folder not found: ${r}`);
    images.push(...(await listImages(r)));
  }
  if (images.length === 0) throw new Error(`no images under ${roots.join(', ')}`);
  const labels = await Promise.all(images.map(labelPathFor));
  if (labels.every((l) => l === undefined)) throw new Error(`${dir}: no label .txt files for any image (expected labels/ beside images/, or a .txt beside each image)`);

  const which = new Map(names.map((n, i) => [n, i]));
  const remap = opts.names && found?.names ? found.names.map((n) => which.get(n)) : undefined;
  const fileClasses = found?.names.length ?? names.length;

  return imageFileDataset({
    names,
    paths: images,
    id: (i) => relative(dir, images[i]),
    boxes: async (i, img) => {
      const lf = labels[i];
      const parsed = lf ? parseYoloLabels(await readFile(lf, 'utf8'), fileClasses, lf) : [];
      const boxes: GroundTruth[] = [];
      for (const l of parsed) {
        const cls = remap ? remap[l.classId] : l.classId;
        if (cls === undefined) continue;
        boxes.push({ classId: cls, x1: l.x1 * img.width, y1: l.y1 * img.height, x2: l.x2 * img.width, y2: l.y2 * img.height });
      }
      return boxes;
    },
  });
}

