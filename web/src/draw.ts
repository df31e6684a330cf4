// Boxes and labels on a canvas, in the class colours the annotated images use (src/vision/palette.ts).
import { classColour, textColour } from '../../src/vision/palette.ts';
import type { Detection } from './api.ts';

/** A rectangle as drawn, in canvas pixels, with what it stands for: the tests read these back. */
export interface DrawnBox {
  x: number;
  y: number;
  w: number;
  h: number;
  colour: string;
  class_id: number;
  label: string;
  path?: string[];
}

export function label(d: Detection): string {
  return `${d.class} ${Math.round(d.score * 100)}%`;
}

/** Draws every detection (boxes in image pixels, scaled by `scale`) and returns what it drew. */
export function drawDetections(ctx: CanvasRenderingContext2D, detections: readonly Detection[], scale: number): DrawnBox[] {
  const W = ctx.canvas.width, H = ctx.canvas.height;
  const side = Math.min(W, H);
  const lw = Math.max(2, Math.round(side / 200));
  const font = Math.max(11, Math.round(side / 32));
  ctx.font = `${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  const drawn: DrawnBox[] = [];
  for (const d of detections) {
    const colour = classColour(d.class_id);
    const x = Math.round(d.box.x1 * scale), y = Math.round(d.box.y1 * scale);
    const w = Math.round((d.box.x2 - d.box.x1) * scale), h = Math.round((d.box.y2 - d.box.y1) * scale);
    ctx.strokeStyle = colour;
    ctx.lineWidth = lw;
    ctx.strokeRect(x, y, w, h);
    drawn.push({ x, y, w, h, colour, class_id: d.class_id, label: label(d), path: d.path });
  }
  // labels after every box, so no box line crosses a label
  for (const b of drawn) {
    const tw = ctx.measureText(b.label).width + 6, th = font + 4;
    const lx = Math.min(Math.max(0, b.x), Math.max(0, W - tw));
    const ly = b.y - th >= 0 ? b.y - th : b.y;
    ctx.fillStyle = b.colour;
    ctx.fillRect(lx, ly, tw, th);
    ctx.fillStyle = textColour(b.colour);
    ctx.fillText(b.label, lx + 3, ly + 2);
  }
  return drawn;
}

/** The innermost drawn box under a point (canvas pixels), for hover. */
export function boxAt(drawn: readonly DrawnBox[], px: number, py: number): DrawnBox | undefined {
  let best: DrawnBox | undefined;
  for (const b of drawn) {
    if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h && (!best || b.w * b.h < best.w * best.h)) best = b;
  }
  return best;
}
