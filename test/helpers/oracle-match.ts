// Our detections against darknet's own boxes from the live oracle (test/helpers/oracle.ts), as the
// vision and runtime conformance tests check them: same count, same class, IoU >= 0.99 (or, for a box a
// fraction of a pixel wide, every corner within 1e-3 px), |score diff| <= 1e-3. The IoU here is written out again on purpose: the code under test has its own.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Detection } from '../../src/runtime/types.ts';
import { darknetData, type OracleJson } from './oracle.ts';

export const MIN_IOU = 0.99;
export const MAX_SCORE_DIFF = 1e-3;
/**
 * Random weights make some boxes a hundredth of a pixel wide (yolov1-tiny, dog.jpg: x 11.648 to 11.662), where
 * float rounding of 1e-4 px, what ORT's own kernels already differ from darknet by, is 1% of IoU; such a pair
 * matches when every corner is this close.
 */
export const MAX_CORNER_PX = 1e-3;

const pngs = new Map<number, Promise<string>>();

/**
 * dog.jpg resized to size x size, written once to a stable path that every test file shares: the
 * oracle cache keys on the image's path and mtime, so they share its cached darknet runs as well.
 */
export function dogPng(size: number): Promise<string> {
  let p = pngs.get(size);
  if (!p) pngs.set(size, (p = writeDogPng(size)));
  return p;
}

async function writeDogPng(size: number): Promise<string> {
  const dir = join(tmpdir(), `pinhole-vision-oracle-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true });
  const p = join(dir, `dog${size}.png`);
  if (!existsSync(p)) {
    const tmp = `${p}.${process.pid}.tmp`;
    await sharp(darknetData('dog.jpg')).resize(size, size, { fit: 'fill' }).png().toFile(tmp);
    renameSync(tmp, p);
  }
  return p;
}

export type Scored = Pick<Detection, 'class_id' | 'score' | 'box'>;

/** Darknet's final boxes (centre, size, normalised) in corner pixels of an image of size `im`. */
export function darknetDetections(json: OracleJson, im: { width: number; height: number }): Scored[] {
  return json.boxes.map((b) => ({
    class_id: b.class, score: b.prob,
    box: { x1: (b.x - b.w / 2) * im.width, y1: (b.y - b.h / 2) * im.height, x2: (b.x + b.w / 2) * im.width, y2: (b.y + b.h / 2) * im.height },
  }));
}

function iou(a: Detection['box'], b: Detection['box']): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  const inter = iw > 0 && ih > 0 ? iw * ih : 0;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

function cornerDiff(a: Detection['box'], b: Detection['box']): number {
  return Math.max(Math.abs(a.x1 - b.x1), Math.abs(a.y1 - b.y1), Math.abs(a.x2 - b.x2), Math.abs(a.y2 - b.y2));
}

export interface MatchReport {
  /** darknet boxes with no partner of ours, one line each */
  unmatched: string[];
  /** lowest IoU and largest |score diff| among the matched pairs */
  worstIou: number;
  worstScore: number;
}

/**
 * Greedy one-to-one matching, darknet's best boxes first: a partner has the same class, a score within
 * MAX_SCORE_DIFF and the highest IoU, which must reach MIN_IOU (or every corner within MAX_CORNER_PX). Each of
 * ours is used at most once.
 */
export function matchDarknet(dk: readonly Scored[], mine: readonly Scored[]): MatchReport {
  const used = new Uint8Array(mine.length);
  let worstIou = 1, worstScore = 0;
  const unmatched: string[] = [];
  for (const d of [...dk].sort((a, b) => b.score - a.score)) {
    let best = -1, bestIou = 0;
    for (let j = 0; j < mine.length; j++) {
      if (used[j] || mine[j].class_id !== d.class_id || Math.abs(mine[j].score - d.score) > MAX_SCORE_DIFF) continue;
      const v = iou(mine[j].box, d.box);
      if (v > bestIou) { bestIou = v; best = j; }
    }
    if (best < 0 || (bestIou < MIN_IOU && cornerDiff(mine[best].box, d.box) > MAX_CORNER_PX)) {
      unmatched.push(`class ${d.class_id} score ${d.score.toFixed(4)} best IoU ${bestIou.toFixed(4)}`);
      continue;
    }
    used[best] = 1;
    worstIou = Math.min(worstIou, bestIou);
    worstScore = Math.max(worstScore, Math.abs(mine[best].score - d.score));
  }
  return { unmatched, worstIou, worstScore };
}
