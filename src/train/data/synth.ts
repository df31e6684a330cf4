// The built-in generated scenes (`synth:SEED:COUNT`): coloured shapes of 16 classes on textured,
// cluttered, noisy backgrounds, with overlap and occlusion, boxes of the visible extent and a caption.
// Image i of seed S depends on (S, i) alone, so any sample can be drawn in any order.
import { COLOURS, FINE_NAMES, SHAPE_CLASSES, type Colour } from './classes.ts';
import { addStripes, addValueNoise, blend, fill, fillGradient, meanColour, newCanvas, rasterise, toUint8, type Canvas, type Coverage, type RGB } from './raster.ts';
import { Rng } from './rng.ts';
import { makeShape, segmentSdf } from './shapes.ts';

export interface SceneOptions {
  width?: number;
  height?: number;
  minObjects?: number;
  maxObjects?: number;
  /** object size (its longest side before rotation) as a fraction of the image's shorter side */
  minSize?: number;
  maxSize?: number;
  /** fine class ids to draw from (default: all) */
  classes?: readonly number[];
  /** a visible fraction below this drops the occluding object (default 0.4: occluded > 60%) */
  minVisible?: number;
  /** flat mid-grey background, no clutter, shading, outline or noise (for checking geometry) */
  plain?: boolean;
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface SceneObject {
  classId: number;
  name: string;
  colour: string;
  /** longest side before rotation, px */
  size: number;
  sizeWord: 'small' | 'medium' | 'large';
  angle: number;
  /** visible extent (pixels with coverage >= .5 not covered by later objects) */
  box: Box;
  /** visible fraction of the object's own area */
  visible: number;
}

export interface Scene {
  width: number;
  height: number;
  rgb: Uint8Array;
  objects: SceneObject[];
  caption: string;
}

export const PLAIN_GREY: RGB = [128, 128, 128];

const DEFAULTS = { width: 256, height: 256, minObjects: 1, maxObjects: 8, minSize: 0.06, maxSize: 0.6, minVisible: 0.4 };

/** Stream keys: the same (seed, index) gives unrelated images in each kind of set. */
export const STREAM = { detection: 0xd37ec7, classification: 0xc1a55, caption: 0xca971 } as const;

/** Copies the keys whose value is not undefined (so `{ width: undefined }` keeps the default). */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function checkSize(width: number, height: number): void {
  for (const [k, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 32 || v > 4096) throw new RangeError(`synth image ${k} must be an integer in [32, 4096], got ${v}`);
  }
}

/** Seeds are integers up to 2^53; both 32-bit halves go into the stream key. */
export function seedKeys(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  return [seed % 4294967296, Math.floor(seed / 4294967296)];
}

export function sizeWord(size: number, side: number): SceneObject['sizeWord'] {
  const f = size / side;
  return f < 0.17 ? 'small' : f >= 0.33 ? 'large' : 'medium';
}

function muted(rng: Rng): RGB {
  const g = rng.range(35, 215);
  const tint = 45;
  return [g + rng.range(-tint, tint), g + rng.range(-tint, tint), g + rng.range(-tint, tint)];
}

function paintBackground(c: Canvas, rng: Rng): void {
  const c0 = muted(rng);
  const c1: RGB = rng.chance(0.3) ? c0 : [c0[0] + rng.range(-70, 70), c0[1] + rng.range(-70, 70), c0[2] + rng.range(-70, 70)];
  fillGradient(c, c0, c1, rng.range(0, 2 * Math.PI));
  const stripes = rng.chance(0.45) ? (rng.chance(0.25) ? 2 : 1) : 0;
  for (let k = 0; k < stripes; k++) {
    const a = rng.range(6, 26);
    const amp: RGB = rng.chance(0.5) ? [a, a, a] : [rng.range(-a, a), rng.range(-a, a), rng.range(-a, a)];
    addStripes(c, rng.range(0, Math.PI), rng.range(4, 40), amp, rng.chance(0.3));
  }
  if (rng.chance(0.6)) addValueNoise(c, rng, rng.int(2, 12), rng.range(10, 40), rng.chance(0.5));
}

/**
 * Clutter that is no class: thin strokes, zig-zags and specks. Kept thin or tiny so that nothing
 * in it reads as one of the shapes (no arcs: those would look like crescents or rings).
 */
function paintClutter(c: Canvas, rng: Rng, count: number): void {
  const side = Math.min(c.width, c.height);
  for (let k = 0; k < count; k++) {
    const col: RGB = rng.chance(0.5) ? rng.pick(COLOURS).rgb : [rng.range(0, 255), rng.range(0, 255), rng.range(0, 255)];
    const kind = rng.float();
    if (kind < 0.25) {
      const r = rng.range(0.6, 1.8);
      const x = rng.range(0, c.width);
      const y = rng.range(0, c.height);
      blend(c, rasterise((px, py) => Math.sqrt(px * px + py * py) - r, x, y, 0, r, r, c.width, c.height), { col });
      continue;
    }
    const segs = kind < 0.7 ? 1 : rng.int(2, 4);
    const r = rng.range(0.4, 1.2);
    let x = rng.range(0, c.width);
    let y = rng.range(0, c.height);
    let dir = rng.range(0, 2 * Math.PI);
    for (let s = 0; s < segs; s++) {
      const len = side * rng.range(0.02, 0.12);
      const ang = dir;
      const mx = x + (Math.cos(ang) * len) / 2;
      const my = y + (Math.sin(ang) * len) / 2;
      const e = len / 2 + r + 1;
      blend(c, rasterise(segmentSdf(-len / 2, 0, len / 2, 0, r), mx, my, ang, e, e, c.width, c.height), { col });
      x += Math.cos(ang) * len;
      y += Math.sin(ang) * len;
      dir += (rng.chance(0.5) ? 1 : -1) * rng.range(1.9, 2.6);
    }
  }
}

function dist2(a: RGB, b: RGB): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

/** A palette colour far from the background under the object and from the objects it overlaps. */
function pickColour(rng: Rng, avoid: RGB[], palette: readonly Colour[]): Colour {
  const order = rng.shuffle([...palette]);
  let best = order[0];
  let bestD = -1;
  for (const c of order) {
    let d = Infinity;
    for (const a of avoid) d = Math.min(d, dist2(c.rgb, a));
    if (d >= 110 * 110) return c;
    if (d > bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

interface Placed {
  classId: number;
  colour: Colour;
  rgb: RGB;
  m: Coverage;
  size: number;
  angle: number;
  area: number;
  visible: number;
  shade: number;
  shadeDir: number;
  outline: number;
}

function relation(a: Box, b: Box): string {
  const dx = (a.x1 + a.x2 - b.x1 - b.x2) / 2;
  const dy = (a.y1 + a.y2 - b.y1 - b.y2) / 2;
  if (Math.abs(dy) >= Math.abs(dx)) return dy < 0 ? 'above' : 'below';
  return dx < 0 ? 'to the left of' : 'to the right of';
}

export function describe(o: Pick<SceneObject, 'sizeWord' | 'colour' | 'name'>): string {
  const size = o.sizeWord === 'medium' ? '' : `${o.sizeWord} `;
  return `${size}${o.colour} ${o.name}`;
}

function article(phrase: string): string {
  return /^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}

/** "a small red triangle above a large blue circle and a green star" (1-3 of the largest objects). */
function caption(rng: Rng, objects: SceneObject[]): string {
  const byArea = [...objects].sort((a, b) => (b.box.x2 - b.box.x1) * (b.box.y2 - b.box.y1) - (a.box.x2 - a.box.x1) * (a.box.y2 - a.box.y1));
  const chosen = rng.shuffle(byArea.slice(0, Math.min(objects.length, rng.int(1, 3))));
  if (chosen.length === 0) return 'an empty scene';
  let text = article(describe(chosen[0]));
  if (chosen.length >= 2) text += ` ${relation(chosen[0].box, chosen[1].box)} ${article(describe(chosen[1]))}`;
  if (chosen.length === 3) text += ` and ${article(describe(chosen[2]))}`;
  return text;
}

type SceneSettings = typeof DEFAULTS;

function checkSceneOptions(o: SceneSettings, classes: readonly number[]): void {
  checkSize(o.width, o.height);
  if (classes.length === 0) throw new RangeError('synth: empty class list');
  for (const c of classes) if (!Number.isInteger(c) || c < 0 || c >= SHAPE_CLASSES.length) throw new RangeError(`synth: no class ${c}`);
  if (!(o.minObjects >= 0 && o.maxObjects >= o.minObjects && o.maxObjects <= 64)) throw new RangeError(`synth: need 0 <= minObjects <= maxObjects <= 64`);
  if (!(o.minSize > 0 && o.maxSize >= o.minSize && o.maxSize <= 1)) throw new RangeError(`synth: need 0 < minSize <= maxSize <= 1`);
}

/** A scene being laid out: which object owns each pixel, and the objects placed so far. */
interface Layout {
  rng: Rng;
  o: SceneSettings;
  classes: readonly number[];
  canvas: Canvas;
  /** index into placed of the object on top at each pixel, -1 for background */
  owner: Int16Array;
  placed: Placed[];
}

/**
 * One try at placing an object: a shape of a random class, size, angle and position that keeps every
 * object already placed at least minVisible visible. False when it does not fit.
 */
function tryPlace(l: Layout, attempt: number): boolean {
  const { rng, o, canvas, owner, placed } = l;
  const { width: W, height: H } = o;
  const classId = rng.pick(l.classes);
  let size = rng.logRange(o.minSize, o.maxSize) * Math.min(W, H);
  if (attempt >= 6) size *= 0.6; // crowded: try smaller
  const geom = makeShape(classId, size, rng);
  const angle = rng.range(0, 2 * Math.PI);
  const cs = Math.abs(Math.cos(angle));
  const sn = Math.abs(Math.sin(angle));
  const ex = cs * geom.hx + sn * geom.hy;
  const ey = sn * geom.hx + cs * geom.hy;
  if (2 * ex > W - 2 || 2 * ey > H - 2) return false;
  const cx = rng.range(ex + 1, W - ex - 1);
  const cy = rng.range(ey + 1, H - ey - 1);
  const m = rasterise(geom.sdf, cx, cy, angle, ex, ey, W, H);
  if (m.area < 12) return false;
  const hits = new Int32Array(placed.length);
  for (let y = 0; y < m.h; y++) {
    for (let x = 0; x < m.w; x++) {
      if (m.dist[y * m.w + x] > 0) continue;
      const who = owner[(m.y0 + y) * W + m.x0 + x];
      if (who >= 0) hits[who]++;
    }
  }
  if (placed.some((p, j) => p.visible - hits[j] < o.minVisible * p.area)) return false;
  const avoid: RGB[] = [meanColour(canvas, m.x0, m.y0, m.w, m.h)];
  placed.forEach((p, j) => { if (hits[j] > 0) avoid.push(p.rgb); });
  const colour = pickColour(rng, avoid, COLOURS);
  const j = 18;
  const rgb: RGB = [colour.rgb[0] + rng.range(-j, j), colour.rgb[1] + rng.range(-j, j), colour.rgb[2] + rng.range(-j, j)];
  for (let y = 0; y < m.h; y++) {
    for (let x = 0; x < m.w; x++) if (m.dist[y * m.w + x] <= 0) owner[(m.y0 + y) * W + m.x0 + x] = placed.length;
  }
  placed.forEach((p, jj) => { p.visible -= hits[jj]; });
  placed.push({
    classId, colour, rgb, m, size, angle, area: m.area, visible: m.area,
    shade: rng.chance(0.5) ? rng.range(0.05, 0.3) : 0,
    shadeDir: rng.range(0, 2 * Math.PI),
    outline: rng.chance(0.25) ? rng.range(1, Math.max(1.2, size / 25)) : 0,
  });
  return true;
}

function paintObjects(canvas: Canvas, placed: readonly Placed[], plain: boolean): void {
  for (const p of placed) {
    const { m } = p;
    const cx = m.x0 + m.w / 2;
    const cy = m.y0 + m.h / 2;
    const ux = Math.cos(p.shadeDir) / (p.size / 2);
    const uy = Math.sin(p.shadeDir) / (p.size / 2);
    if (plain) {
      blend(canvas, m, { col: p.rgb });
      continue;
    }
    blend(canvas, m, {
      col: p.rgb,
      shade: p.shade > 0 ? (x, y) => 1 + p.shade * ((x - cx) * ux + (y - cy) * uy) : undefined,
      outline: p.outline,
      outlineCol: [p.rgb[0] * 0.45, p.rgb[1] * 0.45, p.rgb[2] * 0.45],
    });
  }
}

/** Each placed object with the box of the pixels it still owns (what is visible of it). */
function sceneObjects(l: Layout): SceneObject[] {
  const W = l.o.width;
  const side = Math.min(W, l.o.height);
  return l.placed.map((p, k) => {
    const { m } = p;
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    for (let y = 0; y < m.h; y++) {
      for (let x = 0; x < m.w; x++) {
        if (l.owner[(m.y0 + y) * W + m.x0 + x] !== k) continue;
        const px = m.x0 + x;
        const py = m.y0 + y;
        if (px < x1) x1 = px;
        if (px > x2) x2 = px;
        if (py < y1) y1 = py;
        if (py > y2) y2 = py;
      }
    }
    return {
      classId: p.classId,
      name: FINE_NAMES[p.classId],
      colour: p.colour.name,
      size: p.size,
      sizeWord: sizeWord(p.size, side),
      angle: p.angle,
      box: { x1, y1, x2: x2 + 1, y2: y2 + 1 },
      visible: p.visible / p.area,
    };
  });
}

/** Draws one detection scene. */
export function synthScene(seed: number, index: number, opts: SceneOptions = {}, stream: number = STREAM.detection): Scene {
  const o = { ...DEFAULTS, ...defined(opts) };
  const { width: W, height: H } = o;
  const classes = opts.classes ?? SHAPE_CLASSES.map((_, i) => i);
  checkSceneOptions(o, classes);
  const rng = new Rng(...seedKeys(seed), index, stream);
  const canvas = newCanvas(W, H);
  const plain = opts.plain === true;
  if (plain) fill(canvas, PLAIN_GREY);
  else {
    paintBackground(canvas, rng);
    paintClutter(canvas, rng, rng.int(0, Math.round(22 * (W * H) / 65536)));
  }
  const layout: Layout = { rng, o, classes, canvas, owner: new Int16Array(W * H).fill(-1), placed: [] };
  const n = rng.int(o.minObjects, o.maxObjects);
  for (let k = 0; k < n; k++) {
    for (let attempt = 0; attempt < 12; attempt++) if (tryPlace(layout, attempt)) break;
  }
  paintObjects(canvas, layout.placed, plain);
  // a few strokes over the objects: they hide a little of them but never change their extent much
  if (!plain && rng.chance(0.3)) paintClutter(canvas, rng, rng.int(1, 3));
  const objects = sceneObjects(layout);
  const sigma = plain || rng.chance(0.2) ? 0 : rng.range(2, 12);
  const rgb = toUint8(canvas, rng, sigma);
  return { width: W, height: H, rgb, objects, caption: caption(rng, objects) };
}
