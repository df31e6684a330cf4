// `--data SPEC`: one entry point for every dataset source.
//   synth:SEED:COUNT[:SIZE|:WxH]    generated scenes, fine labels (YOLOv1/v2)
//   synth9k:SEED:COUNT[:SIZE|:WxH]  the same scenes, coarse labels (YOLO9000 detection data)
//   voc:DIR[:SPLIT]                 Pascal VOC folder (ImageSets/Main/SPLIT.txt)
//   coco:JSON[:IMAGEDIR]            COCO detection JSON and its images
//   yolo:DIR[:SPLIT]                YOLO txt folder
//   DIR | FILE.json                 the format is recognised from what is inside
// Classification (YOLO9000 joint training): synthcls:SEED:COUNT[:SIZE|:WxH] or a DIR/<class>/<image> folder.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCoco } from './coco.ts';
import { isDir, isFile, isImage } from './files.ts';
import { openImageFolder } from './imagefolder.ts';
import { synthClassification, synthDetection } from './synth-datasets.ts';
import type { SceneOptions } from './synth.ts';
import type { ClassificationDataset, DetectionDataset } from './types.ts';
import { openVoc } from './voc.ts';
import { openYolo } from './yolo.ts';

/** The spec itself is malformed (a usage error), as opposed to data that is missing or broken. */
export class DataSpecError extends Error {}

export const SPEC_HELP =
  'expected synth:SEED:COUNT, synth9k:SEED:COUNT, voc:DIR, coco:JSON:IMAGEDIR, yolo:DIR, or a dataset folder';

export type DataSpec =
  | { kind: 'synth' | 'synth9k' | 'synthcls'; seed: number; count: number; width?: number; height?: number }
  | { kind: 'voc' | 'yolo'; dir: string; split?: string }
  | { kind: 'coco'; json: string; imageDir?: string }
  | { kind: 'path'; path: string };

function int(raw: string | undefined, what: string, spec: string, min: number): number {
  if (raw === undefined || !/^\d+$/.test(raw)) throw new DataSpecError(`bad dataset spec "${spec}": ${what} must be an integer >= ${min}, got "${raw ?? ''}"`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new DataSpecError(`bad dataset spec "${spec}": ${what} must be an integer >= ${min}, got "${raw}"`);
  return v;
}

/** Parses the spec's syntax only (no file access). */
export function parseDataSpec(spec: string): DataSpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new DataSpecError(`empty dataset spec (${SPEC_HELP})`);
  const m = /^([a-z0-9]+):(.*)$/.exec(spec);
  // a bare path (also "C:\..." style drive letters, which are one letter)
  if (!m || m[1].length === 1) return { kind: 'path', path: spec };
  const [, scheme, rest] = m;
  switch (scheme) {
    case 'synth':
    case 'synth9k':
    case 'synthcls': {
      const parts = rest.split(':');
      if (parts.length < 2 || parts.length > 3) throw new DataSpecError(`bad dataset spec "${spec}": expected ${scheme}:SEED:COUNT[:SIZE|:WxH]`);
      const seed = int(parts[0], 'SEED', spec, 0);
      const count = int(parts[1], 'COUNT', spec, 1);
      if (parts.length === 2) return { kind: scheme, seed, count };
      const sz = /^(\d+)(?:x(\d+))?$/.exec(parts[2]);
      if (!sz) throw new DataSpecError(`bad dataset spec "${spec}": image size must be SIZE or WxH, got "${parts[2]}"`);
      const width = Number(sz[1]);
      const height = sz[2] !== undefined ? Number(sz[2]) : width;
      for (const v of [width, height]) if (v < 32 || v > 4096) throw new DataSpecError(`bad dataset spec "${spec}": image size must be in [32, 4096]`);
      return { kind: scheme, seed, count, width, height };
    }
    case 'voc':
    case 'yolo': {
      if (!rest) throw new DataSpecError(`bad dataset spec "${spec}": expected ${scheme}:DIR`);
      // DIR:SPLIT, unless the whole rest is the folder (split is resolved against the disk in open)
      return { kind: scheme, dir: rest };
    }
    case 'coco': {
      if (!rest) throw new DataSpecError(`bad dataset spec "${spec}": expected coco:JSON:IMAGEDIR`);
      const k = rest.search(/\.json:/i);
      if (k >= 0) return { kind: 'coco', json: rest.slice(0, k + 5), imageDir: rest.slice(k + 6) || undefined };
      return { kind: 'coco', json: rest };
    }
    default:
      throw new DataSpecError(`unknown dataset kind "${scheme}" in "${spec}" (${SPEC_HELP})`);
  }
}

export interface OpenOptions {
  /** generated image size (synth*), default 256x256 */
  width?: number;
  height?: number;
  /** more generator knobs for synth* (object counts, sizes, classes) */
  scene?: Omit<SceneOptions, 'width' | 'height'>;
  /** split for folders that have them (VOC ImageSets/Main, YOLO data.yaml keys or images/ subfolders) */
  split?: string;
  /** fix the class list (by name); annotations of other classes are left out */
  names?: readonly string[];
}

/** `voc:DIR:SPLIT` vs a folder whose name has a colon: the disk decides. */
async function dirAndSplit(rest: string, split?: string): Promise<{ dir: string; split?: string }> {
  if ((await isDir(rest)) || !rest.includes(':')) return { dir: rest, split };
  const k = rest.lastIndexOf(':');
  return { dir: rest.slice(0, k), split: rest.slice(k + 1) || split };
}

type Format = 'voc' | 'coco' | 'yolo';

/** What kind of dataset a folder holds, from its layout. */
export async function detectFormat(dir: string): Promise<{ format: Format; json?: string } | undefined> {
  if (await isDir(join(dir, 'Annotations'))) return { format: 'voc' };
  for (const y of ['data.yaml', 'data.yml', 'classes.txt', 'obj.names']) if (await isFile(join(dir, y))) return { format: 'yolo' };
  if (await isDir(join(dir, 'labels'))) return { format: 'yolo' };
  for (const d of [dir, join(dir, 'annotations')]) {
    if (!(await isDir(d))) continue;
    for (const f of (await readdir(d)).filter((n) => n.toLowerCase().endsWith('.json')).sort()) {
      const p = join(d, f);
      try {
        const head = (await readFile(p, 'utf8')).slice(0, 1 << 20);
        if (/"images"\s*:/.test(head) && /"categories"\s*:/.test(head)) return { format: 'coco', json: p };
      } catch {
        /* unreadable: not ours to judge here */
      }
    }
  }
  // darknet style: images with .txt beside them
  const entries = await readdir(dir);
  if (entries.some(isImage) && entries.some((e) => e.endsWith('.txt'))) return { format: 'yolo' };
  return undefined;
}

export async function openDataset(spec: string, opts: OpenOptions = {}): Promise<DetectionDataset> {
  const s = parseDataSpec(spec);
  switch (s.kind) {
    case 'synth':
    case 'synth9k':
      return synthDetection(s.seed, s.count, {
        ...opts.scene,
        width: s.width ?? opts.width,
        height: s.height ?? opts.height,
        labels: s.kind === 'synth9k' ? 'coarse' : 'fine',
      });
    case 'synthcls':
      throw new DataSpecError(`"${spec}" is a classification set; detection needs ${SPEC_HELP}`);
    case 'voc': {
      const { dir, split } = await dirAndSplit(s.dir, opts.split);
      return openVoc(dir, { split, names: opts.names });
    }
    case 'yolo': {
      const { dir, split } = await dirAndSplit(s.dir, opts.split);
      return openYolo(dir, { split, names: opts.names });
    }
    case 'coco':
      return openCoco(s.json, s.imageDir, { names: opts.names });
    case 'path': {
      const p = s.path;
      if (await isFile(p)) {
        if (p.toLowerCase().endsWith('.json')) return openCoco(p, undefined, { names: opts.names });
        throw new DataSpecError(`"${p}" is a file but not a COCO .json (${SPEC_HELP})`);
      }
      if (!(await isDir(p))) throw new DataSpecError(`dataset not found: "${p}" is neither a folder nor a known spec (${SPEC_HELP})`);
      const f = await detectFormat(p);
      if (!f) throw new Error(`cannot tell the dataset format of ${p}: no Annotations/ (VOC), COCO .json, or YOLO labels/classes.txt/data.yaml inside`);
      if (f.format === 'voc') return openVoc(p, { split: opts.split, names: opts.names });
      if (f.format === 'yolo') return openYolo(p, { split: opts.split, names: opts.names });
      return openCoco(f.json!, undefined, { names: opts.names });
    }
  }
}

export async function openClassification(spec: string, opts: Pick<OpenOptions, 'width' | 'height' | 'scene' | 'names'> = {}): Promise<ClassificationDataset> {
  const s = parseDataSpec(spec);
  if (s.kind === 'synthcls' || s.kind === 'synth') {
    return synthClassification(s.seed, s.count, { ...opts.scene, width: s.width ?? opts.width, height: s.height ?? opts.height });
  }
  if (s.kind === 'path') return openImageFolder(s.path, { names: opts.names });
  throw new DataSpecError(`"${spec}" is not a classification set (expected synthcls:SEED:COUNT or a DIR/<class>/<image> folder)`);
}
