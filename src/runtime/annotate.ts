// Detections drawn onto the picture they were found in: boxes, labels and scores as an SVG overlay that
// sharp (librsvg) rasterises and composites. Used by `pinhole detect --save`, POST /v1/detect?render=1 and
// the video path. The overlay is built in the frame the boxes are in (after EXIF orientation).
import sharp, { type Sharp } from 'sharp';
import { classColour, textColour } from '../vision/palette.ts';
import { checkRawImage, isRawImage, type RawImage } from './raw-image.ts';
import type { Detection } from './types.ts';

export type AnnotatedFormat = 'jpeg' | 'png';

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The label drawn above a box: class and score, e.g. "circle 91%". */
export function label(d: Detection): string {
  return `${d.class} ${Math.round(d.score * 100)}%`;
}

/** SVG (width x height) holding one outlined box and one filled label per detection. */
export function overlaySvg(width: number, height: number, detections: readonly Detection[]): string {
  // line and type scale with the picture so a 4K frame and a 256 px scene both read at a glance
  const side = Math.min(width, height);
  const stroke = Math.max(2, Math.round(side / 200));
  const font = Math.max(11, Math.round(side / 32));
  const pad = Math.round(font * 0.25);
  const parts: string[] = [];
  for (const d of detections) {
    const c = classColour(d.class_id);
    const x1 = clamp(d.box.x1, 0, width), y1 = clamp(d.box.y1, 0, height);
    const x2 = clamp(d.box.x2, 0, width), y2 = clamp(d.box.y2, 0, height);
    parts.push(`<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${(x2 - x1).toFixed(1)}" height="${(y2 - y1).toFixed(1)}" fill="none" stroke="${c}" stroke-width="${stroke}"/>`);
    const text = label(d);
    // DejaVu Sans (librsvg's default sans) averages ~.6 em per character
    const tw = Math.ceil(text.length * font * 0.6) + 2 * pad;
    const th = font + 2 * pad;
    const lx = clamp(x1, 0, Math.max(0, width - tw));
    // above the box when there is room, else inside its top edge
    const ly = y1 - th >= 0 ? y1 - th : y1;
    parts.push(`<rect x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" width="${tw}" height="${th}" fill="${c}"/>`
      + `<text x="${(lx + pad).toFixed(1)}" y="${(ly + pad + font * 0.85).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="${textColour(c)}">${escapeXml(text)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function base(image: Uint8Array | RawImage): Sharp {
  if (isRawImage(image)) {
    checkRawImage(image);
    return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
  }
  return sharp(image, { autoOrient: true });
}

async function frameSize(image: Uint8Array | RawImage): Promise<{ width: number; height: number }> {
  if (isRawImage(image)) return { width: image.width, height: image.height };
  const m = await sharp(image).metadata();
  return m.autoOrient;
}

/** The image with its detections drawn, encoded as JPEG or PNG. */
export async function annotate(image: Uint8Array | RawImage, detections: readonly Detection[], format: AnnotatedFormat): Promise<Buffer> {
  const { width, height } = await frameSize(image);
  const pipe = base(image).composite([{ input: Buffer.from(overlaySvg(width, height, detections)) }]);
  return format === 'png' ? pipe.png().toBuffer() : pipe.jpeg({ quality: 90 }).toBuffer();
}

/** Decoded RGB pixels with the detections drawn (a video frame on its way to the encoder). */
export async function annotateRaw(frame: RawImage, detections: readonly Detection[]): Promise<Buffer> {
  if (detections.length === 0 && frame.channels === 3) return Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  return base(frame)
    .composite([{ input: Buffer.from(overlaySvg(frame.width, frame.height, detections)) }])
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** The format to answer in: one the client names in Accept, else the input's own (PNG stays PNG, the rest JPEG). */
export function pickFormat(accept: string | undefined, inputFormat: string | undefined): AnnotatedFormat {
  const a = (accept ?? '').toLowerCase();
  const png = a.indexOf('image/png'), jpeg = a.indexOf('image/jpeg');
  if (png >= 0 && (jpeg < 0 || png < jpeg)) return 'png';
  if (jpeg >= 0) return 'jpeg';
  return inputFormat === 'png' ? 'png' : 'jpeg';
}

/** sharp's name of an encoded image's format ('jpeg', 'png', ...), undefined when it cannot tell. */
export async function formatOf(bytes: Uint8Array): Promise<string | undefined> {
  return sharp(bytes).metadata().then((m) => m.format, () => undefined);
}
