// Geometry of the three ways an image becomes a network input (letterbox, resize, pad-square), and the
// inverse map that brings network-relative boxes back to the original image. The runtime fills pixels (sharp); this module
// only decides where they go, with darknet's integer and float32 arithmetic so boxes match it.

import type { PadPosition, PreprocessKind } from '../manifest.ts';
import type { ImageSize } from './types.ts';

const f = Math.fround;

export type PreprocessMode = PreprocessKind;
export type { PadPosition };

export type { ImageSize } from './types.ts';

/** Where the scaled image sits inside the network input. */
export interface PasteGeometry {
  netW: number;
  netH: number;
  /** size of the scaled image inside the canvas */
  newW: number;
  newH: number;
  /** top-left corner of the scaled image in the canvas (integer pixels) */
  dx: number;
  dy: number;
  /** value of the canvas outside the image (darknet fills with .5 after /255 scaling) */
  fill: number;
  /** pad-square: the square the image was padded to (at its own resolution) before the resize */
  square?: SquarePad;
}

function checkSize(what: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) {
    throw new RangeError(`${what} must be positive integers, got ${w}x${h}`);
  }
}

/**
 * darknet letterbox_image: keep the aspect ratio, the long side fills the network side, the short
 * side is an INTEGER division (truncating), pasted centred with an integer offset on a .5 canvas.
 * The branch compares float32 ratios because darknet does; for near-equal ratios that decides
 * which side is truncated.
 */
export function letterboxGeometry(imW: number, imH: number, netW: number, netH: number): PasteGeometry {
  checkSize('image size', imW, imH);
  checkSize('network size', netW, netH);
  let newW: number;
  let newH: number;
  if (f(netW / imW) < f(netH / imH)) {
    newW = netW;
    newH = Math.trunc((imH * netW) / imW);
  } else {
    newH = netH;
    newW = Math.trunc((imW * netH) / imH);
  }
  // A 1-pixel-wide sliver of an extremely elongated image would truncate to 0: keep one pixel so
  // the runtime always has something to resize into (darknet would crash here instead).
  newW = Math.max(1, newW);
  newH = Math.max(1, newH);
  return { netW, netH, newW, newH, dx: Math.trunc((netW - newW) / 2), dy: Math.trunc((netH - newH) / 2), fill: 0.5 };
}

/** Plain resize (darknet `yolo test`): the image is stretched over the whole input. */
export function resizeGeometry(imW: number, imH: number, netW: number, netH: number): PasteGeometry {
  checkSize('image size', imW, imH);
  checkSize('network size', netW, netH);
  return { netW, netH, newW: netW, newH: netH, dx: 0, dy: 0, fill: 0.5 };
}

/**
 * pad-square (face-api's padToSquare): the image is padded to a square of its long side at its OWN
 * resolution, and the square is then resized over the whole input (so, in network pixels, the image
 * need not end on a pixel boundary). top-left puts all padding after the image (right or bottom,
 * face-api's default); center splits it, the larger half after, as padToSquare(isCenterImage) does.
 */
export interface SquarePad {
  side: number;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export function squarePad(imW: number, imH: number, pos: PadPosition = 'top-left'): SquarePad {
  checkSize('image size', imW, imH);
  const side = Math.max(imW, imH);
  const dw = side - imW, dh = side - imH;
  const after = (d: number) => (pos === 'center' ? Math.round(d * 0.5) : d);
  return { side, left: dw - after(dw), top: dh - after(dh), right: after(dw), bottom: after(dh) };
}

/** pad-square's network input is the resized square: it covers the whole canvas. */
export function pasteGeometry(mode: PreprocessMode, imW: number, imH: number, netW: number, netH: number, pad?: PadPosition): PasteGeometry {
  if (mode === 'pad-square') return { ...resizeGeometry(imW, imH, netW, netH), square: squarePad(imW, imH, pad) };
  return mode === 'letterbox' ? letterboxGeometry(imW, imH, netW, netH) : resizeGeometry(imW, imH, netW, netH);
}

/**
 * The inverse map of one image, in the exact form darknet's correct_region_boxes evaluates it:
 *   x' = (x - offX) / scaleX,  w' = w * invScaleX   (same for y/h)
 * with offX = (netW - newW) / 2 / netW in DOUBLE (not the integer paste offset: darknet's quirk, a
 * half network pixel apart when netW - newW is odd), scaleX = float(newW / netW) and
 * invScaleX = float(netW / newW). For a plain resize it is the identity.
 */
export interface BoxFrame {
  offX: number;
  offY: number;
  scaleX: number;
  scaleY: number;
  invScaleX: number;
  invScaleY: number;
  /** original image size, to turn relative boxes into pixels */
  imW: number;
  imH: number;
}

/** The inverse map of an image placed by `g` (the geometry preprocessing used: computed once per image). */
export function frameOf(g: PasteGeometry, im: ImageSize): BoxFrame {
  if (g.square) return squareFrame(g.square, im);
  const { netW, netH, newW, newH } = g;
  return {
    offX: (netW - newW) / 2 / netW,
    offY: (netH - newH) / 2 / netH,
    scaleX: f(newW / netW),
    scaleY: f(newH / netH),
    invScaleX: f(netW / newW),
    invScaleY: f(netH / newH),
    imW: im.width,
    imH: im.height,
  };
}

/**
 * pad-square's inverse map: the image spans [left, left + W) of a side-S square, which spans the
 * network input. The exact fractions, where face-api rounds the scaled image size to whole network
 * pixels (computeReshapedDimensions): a box differs from its by under half a network pixel.
 */
function squareFrame(s: SquarePad, im: ImageSize): BoxFrame {
  return {
    offX: s.left / s.side,
    offY: s.top / s.side,
    scaleX: im.width / s.side,
    scaleY: im.height / s.side,
    invScaleX: s.side / im.width,
    invScaleY: s.side / im.height,
    imW: im.width,
    imH: im.height,
  };
}

export function boxFrame(mode: PreprocessMode, im: ImageSize, netW: number, netH: number, pad?: PadPosition): BoxFrame {
  return frameOf(pasteGeometry(mode, im.width, im.height, netW, netH, pad), im);
}

/**
 * Maps boxes (cx, cy, w, h, relative to the network input) in place to boxes relative to the
 * original image. `count` boxes starting at `start` (in boxes, 4 floats each).
 */
export function correctBoxes(boxes: Float32Array, start: number, count: number, fr: BoxFrame): void {
  for (let i = start * 4, end = (start + count) * 4; i < end; i += 4) {
    boxes[i] = (boxes[i] - fr.offX) / fr.scaleX;
    boxes[i + 1] = (boxes[i + 1] - fr.offY) / fr.scaleY;
    boxes[i + 2] = f(boxes[i + 2] * fr.invScaleX);
    boxes[i + 3] = f(boxes[i + 3] * fr.invScaleY);
  }
}

/** One box (cx, cy, w, h relative to the image) as corner pixels of the original image. */
export function toPixelCorners(cx: number, cy: number, w: number, h: number, imW: number, imH: number, clip = false) {
  let x1 = (cx - w / 2) * imW;
  let y1 = (cy - h / 2) * imH;
  let x2 = (cx + w / 2) * imW;
  let y2 = (cy + h / 2) * imH;
  if (clip) {
    x1 = Math.min(Math.max(x1, 0), imW);
    x2 = Math.min(Math.max(x2, 0), imW);
    y1 = Math.min(Math.max(y1, 0), imH);
    y2 = Math.min(Math.max(y2, 0), imH);
  }
  return { x1, y1, x2, y2 };
}
