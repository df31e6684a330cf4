// Simple captioned scenes for the text-to-image models: 1-2 shapes on a plain background, the caption
// built from structured attributes (colour, shape, position) that are returned too, so that a
// generated image can be checked against what its text asked for.
import { COLOURS, FINE_NAMES, SHAPE_CLASSES, type Colour } from './classes.ts';
import { blend, fill, newCanvas, rasterise, toUint8, type RGB } from './raster.ts';
import { Rng } from './rng.ts';
import { makeShape } from './shapes.ts';
import { checkSize, seedKeys, STREAM, type Box } from './synth.ts';

export type Position =
  | 'top left' | 'top' | 'top right'
  | 'left' | 'center' | 'right'
  | 'bottom left' | 'bottom' | 'bottom right';

export type Relation = 'to the left of' | 'to the right of' | 'above' | 'below';

export interface CaptionObject {
  classId: number;
  shape: string;
  colour: string;
  /** 3x3 grid cell of the object's centre */
  position: Position;
  box: Box;
}

export interface CaptionScene {
  width: number;
  height: number;
  rgb: Uint8Array;
  caption: string;
  objects: CaptionObject[];
  /** for two objects: objects[0] <relation> objects[1], as the caption says */
  relation?: Relation;
  background: RGB;
}

export interface CaptionSceneOptions {
  /** square side in pixels (default 64) */
  size?: number;
  /** up to this many objects, 1 or 2 (default 2) */
  maxObjects?: number;
  /** fine class ids to draw from (default all) */
  classes?: readonly number[];
  /** colour names to draw from (default all but white, which the default background would hide) */
  colours?: readonly string[];
  background?: RGB;
}

const POSITIONS: Position[][] = [
  ['top left', 'top', 'top right'],
  ['left', 'center', 'right'],
  ['bottom left', 'bottom', 'bottom right'],
];

const POSITION_PHRASE: Record<Position, string> = {
  'top left': 'in the top left',
  top: 'at the top',
  'top right': 'in the top right',
  left: 'on the left',
  center: 'in the center',
  right: 'on the right',
  'bottom left': 'in the bottom left',
  bottom: 'at the bottom',
  'bottom right': 'in the bottom right',
};

export function positionOf(cx: number, cy: number, width: number, height: number): Position {
  const col = Math.min(2, Math.max(0, Math.floor((3 * cx) / width)));
  const row = Math.min(2, Math.max(0, Math.floor((3 * cy) / height)));
  return POSITIONS[row][col];
}

function article(phrase: string): string {
  return /^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}

/**
 * Scene `index` of the caption set `seed`. One object: "a red circle in the top left". Two objects:
 * "a red circle to the left of a blue square" (the two never overlap, and are separated along the
 * axis the relation names).
 */
export function synthCaptionScene(seed: number, index: number, opts: CaptionSceneOptions = {}): CaptionScene {
  const size = opts.size ?? 64;
  checkSize(size, size);
  const maxObjects = opts.maxObjects ?? 2;
  if (maxObjects !== 1 && maxObjects !== 2) throw new RangeError(`caption scenes hold 1 or 2 objects, got maxObjects=${maxObjects}`);
  const classes = opts.classes ?? SHAPE_CLASSES.map((_, i) => i);
  const palette: Colour[] = opts.colours
    ? opts.colours.map((n) => {
        const c = COLOURS.find((k) => k.name === n);
        if (!c) throw new RangeError(`unknown colour "${n}" (known: ${COLOURS.map((k) => k.name).join(', ')})`);
        return c;
      })
    : COLOURS.filter((c) => c.name !== 'white');
  if (classes.length === 0 || palette.length === 0) throw new RangeError('caption scenes need at least one class and one colour');
  const background: RGB = opts.background ?? [238, 238, 238];

  const rng = new Rng(...seedKeys(seed), index, STREAM.caption);
  const canvas = newCanvas(size, size);
  fill(canvas, background);
  const n = rng.int(1, maxObjects);

  // centres (fractions of the side) and size fractions
  let centres: [number, number][];
  let fracs: number[];
  let relation: Relation | undefined;
  if (n === 1) {
    const row = rng.int(0, 2);
    const col = rng.int(0, 2);
    fracs = [rng.range(0.34, 0.46)];
    // keep the centre inside its grid cell so that the position word stays right
    centres = [[(col + 0.5) / 3 + rng.range(-0.05, 0.05), (row + 0.5) / 3 + rng.range(-0.05, 0.05)]];
  } else {
    // at most .31 of the side: two rotated shapes then fit in the .4 that separates their centres
    fracs = [rng.range(0.24, 0.31), rng.range(0.24, 0.31)];
    const horizontal = rng.chance(0.5);
    const along: [number, number] = [rng.range(0.22, 0.3), rng.range(0.7, 0.78)];
    const across: [number, number] = [rng.range(0.3, 0.7), rng.range(0.3, 0.7)];
    const flip = rng.chance(0.5); // which of the two is named first
    const a = flip ? 1 : 0;
    const b = 1 - a;
    centres = horizontal
      ? [[along[a], across[0]], [along[b], across[1]]]
      : [[across[0], along[a]], [across[1], along[b]]];
    relation = horizontal ? (flip ? 'to the right of' : 'to the left of') : (flip ? 'below' : 'above');
  }

  const colours = rng.shuffle([...palette]);
  const objects: CaptionObject[] = [];
  for (let k = 0; k < n; k++) {
    const classId = rng.pick(classes);
    const s = fracs[k] * size;
    const geom = makeShape(classId, s, rng);
    const angle = rng.range(-0.35, 0.35);
    const cs = Math.abs(Math.cos(angle));
    const sn = Math.abs(Math.sin(angle));
    const ex = cs * geom.hx + sn * geom.hy;
    const ey = sn * geom.hx + cs * geom.hy;
    const cx = Math.min(size - ex - 1, Math.max(ex + 1, centres[k][0] * size));
    const cy = Math.min(size - ey - 1, Math.max(ey + 1, centres[k][1] * size));
    const colour = colours[k % colours.length];
    const m = rasterise(geom.sdf, cx, cy, angle, ex, ey, size, size);
    blend(canvas, m, { col: colour.rgb });
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    for (let y = 0; y < m.h; y++) {
      for (let x = 0; x < m.w; x++) {
        if (m.dist[y * m.w + x] > 0) continue;
        x1 = Math.min(x1, m.x0 + x); x2 = Math.max(x2, m.x0 + x + 1);
        y1 = Math.min(y1, m.y0 + y); y2 = Math.max(y2, m.y0 + y + 1);
      }
    }
    objects.push({ classId, shape: FINE_NAMES[classId], colour: colour.name, position: positionOf(cx, cy, size, size), box: { x1, y1, x2, y2 } });
  }
  const phrase = (o: CaptionObject) => article(`${o.colour} ${o.shape}`);
  const caption = n === 1
    ? `${phrase(objects[0])} ${POSITION_PHRASE[objects[0].position]}`
    : `${phrase(objects[0])} ${relation} ${phrase(objects[1])}`;
  return { width: size, height: size, rgb: toUint8(canvas, rng, 0), caption, objects, relation, background };
}
