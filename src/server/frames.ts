// Stream wire formats: incoming binary messages are either an encoded image or a protobuf Frame
// (proto/pinhole.proto); results go out as JSON text or protobuf Result.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type protobuf from 'protobufjs';
import type { DetectionResponse } from '../runtime/types.ts';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/pinhole.proto', import.meta.url));

// protobufjs (37 modules, ~25-45 ms to import here) is loaded by the first protobuf message, not at every
// server start, where the main thread's imports are what the first answer waits for (bench/README.md)
const require = createRequire(import.meta.url);
let root: protobuf.Root | undefined;
function types(): { Frame: protobuf.Type; Result: protobuf.Type } {
  root ??= (require('protobufjs') as typeof protobuf).loadSync(PROTO_PATH);
  return { Frame: root.lookupType('pinhole.Frame'), Result: root.lookupType('pinhole.Result') };
}

export interface IncomingFrame {
  image: Uint8Array;
  /** client frame id from a protobuf Frame ('0' for raw images): a decimal string, since a uint64 may exceed 2^53 */
  id: string;
}

export interface StreamResult {
  frame: number;
  /** decimal uint64, see IncomingFrame.id */
  id: string;
  dropped: number;
  response?: DetectionResponse;
  error?: { code: string; message: string };
}

/** JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF magic numbers: such a message is an image, anything else a Frame. */
export function looksLikeImage(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  if (b[0] === 0xff && b[1] === 0xd8) return true;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return true;
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46) return true; // RIFF (WebP)
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return true;
  if ((b[0] === 0x49 && b[1] === 0x49) || (b[0] === 0x4d && b[1] === 0x4d)) return true;
  return b.length >= 12 && b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70; // ftyp
}

/** Throws on a message that is neither an image nor a decodable Frame with an image. */
export function parseFrame(b: Uint8Array): IncomingFrame {
  if (looksLikeImage(b)) return { image: b, id: '0' };
  const { Frame } = types();
  let msg: { image?: Uint8Array; id?: string };
  try {
    msg = Frame.toObject(Frame.decode(b), { longs: String }) as typeof msg;
  } catch {
    throw new Error('binary message is neither an image nor a pinhole.Frame');
  }
  if (!msg.image || msg.image.length === 0) throw new Error('pinhole.Frame has no image');
  return { image: msg.image, id: msg.id ?? '0' };
}

/** `id`: a number, or a decimal string / bigint for ids above 2^53. */
export function encodeFrame(image: Uint8Array, id: number | string | bigint = 0): Uint8Array {
  const { Frame } = types();
  return Frame.encode(Frame.fromObject({ image, id: typeof id === 'bigint' ? id.toString() : id })).finish();
}

/** A JSON number while it is exact, the decimal string above 2^53 - 1 (as the proto comment says). */
function jsonId(id: string): number | string {
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : id;
}

export function resultJson(r: StreamResult): string {
  const head = { frame: r.frame, ...(r.id !== '0' ? { id: jsonId(r.id) } : {}), dropped: r.dropped };
  return JSON.stringify(r.error ? { ...head, error: r.error } : { ...head, ...r.response });
}

export function resultProtobuf(r: StreamResult): Uint8Array {
  const { Result } = types();
  const d = r.response;
  return Result.encode(Result.fromObject({
    frame: r.frame,
    id: r.id,
    dropped: r.dropped,
    error: r.error,
    ...(d ? {
      model: d.model,
      width: d.image.width,
      height: d.image.height,
      timingMs: d.timing_ms,
      detections: d.detections.map((x) => ({ classId: x.class_id, className: x.class, score: x.score, box: x.box, path: x.path ?? [] })),
    } : {}),
  })).finish();
}

/**
 * For clients and tests: a protobuf Result as a plain object (camelCase fields). uint64 fields are numbers,
 * except `id`, a decimal string (exact above 2^53).
 */
export function decodeResult(b: Uint8Array): Record<string, unknown> {
  const { Result } = types();
  const msg = Result.decode(b);
  const obj = Result.toObject(msg, { longs: Number, defaults: true, arrays: true });
  return { ...obj, id: (Result.toObject(msg, { longs: String, defaults: true }) as { id: string }).id };
}
