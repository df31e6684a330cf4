// A stand-in runtime for tests of the HTTP layer alone (routing, validation, error mapping, stream
// scheduling, metrics wiring). It decodes images with sharp so bad images fail as they would for real,
// but it runs no model: it returns no detections. End-to-end behaviour is tested against the real runtime.
import sharp from 'sharp';
import { PinholeError } from '../src/errors.ts';
import { DETECTOR_KINDS, type DetectorKind } from '../src/manifest.ts';
import type { DetectParams, DetectionResponse, ModelInfo, RawTensor } from '../src/runtime/types.ts';
import type { DetectOptions, DetectPlan, ServerRuntime } from '../src/server/contract.ts';
import { resolveParams } from '../src/vision/params.ts';

export interface FakeCall { model: string; bytes: number; params: DetectParams; opts?: DetectOptions }

export class FakeRuntime implements ServerRuntime {
  calls: FakeCall[] = [];
  closed = false;
  /** when set, detect waits for this before answering */
  gate: Promise<void> | undefined;
  /** detect calls running at once beyond which detect throws overloaded, like a full batcher queue */
  queueLimit = Infinity;
  private active = 0;

  constructor(public infos: ModelInfo[] = [
    { name: 'det', dir: '/models/det', status: 'ready', kind: 'yolov2', classes: 3, ep: 'cpu', source: 'darknet',
      input: { width: 32, height: 32, channels: 3, layout: 'NCHW' } },
    { name: 'tree', dir: '/models/tree', status: 'ready', kind: 'yolo9000', classes: 10, ep: 'cpu', source: 'darknet',
      input: { width: 32, height: 32, channels: 3, layout: 'NCHW' } },
    { name: 'gan', dir: '/models/gan', status: 'ready', kind: 'wgan', ep: 'cpu', source: 'pinhole-train',
      input: { width: 8, height: 1, channels: 1, layout: 'NCHW' } },
    { name: 'broken', dir: '/models/broken', status: 'error', error: 'model.onnx: invalid protobuf' },
  ]) {}

  /** Makes detect hang until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((r) => { release = r; });
    return () => { this.gate = undefined; release(); };
  }

  models(): ModelInfo[] { return this.infos; }
  model(name: string): ModelInfo | undefined { return this.infos.find((m) => m.name === name); }

  /** The real runtime's door, on ModelInfo: model lookup, default detector, kind, and vision's parameter checks. */
  resolveDetect(model: string | undefined, params: DetectParams): DetectPlan {
    const isDetector = (m: ModelInfo) => (DETECTOR_KINDS as readonly string[]).includes(m.kind ?? '');
    const info = model === undefined ? this.infos.find((m) => isDetector(m) && m.status === 'ready') : this.model(model);
    if (!info) throw new PinholeError('unknown_model', model === undefined ? 'no detection model is loaded' : `unknown model "${model}"`);
    if (info.status !== 'ready') throw new PinholeError('model_not_ready', `model "${info.name}" is ${info.status}`);
    if (!isDetector(info)) throw new PinholeError('bad_parameter', `model "${info.name}" is a ${info.kind} model, not a detector`);
    const names = Array.from({ length: info.classes ?? 0 }, (_, i) => `class${i}`);
    return { model: info.name, params: resolveParams({ kind: info.kind as DetectorKind, names }, params), asked: params };
  }

  detect(model: string | undefined, bytes: Uint8Array, params: DetectParams, opts?: DetectOptions): Promise<DetectionResponse> {
    try {
      return this.runDetect(this.resolveDetect(model, params), bytes, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async runDetect(plan: DetectPlan, bytes: Uint8Array, opts?: DetectOptions): Promise<DetectionResponse> {
    const model = plan.model;
    if (this.active >= this.queueLimit) throw new PinholeError('overloaded', 'queue full', { retryAfter: 1 });
    this.active++;
    try {
      this.calls.push({ model, bytes: bytes.length, params: plan.asked, opts });
      let meta;
      try {
        meta = await sharp(bytes, { limitInputPixels: 4096 * 4096 }).metadata();
        await sharp(bytes, { limitInputPixels: 4096 * 4096 }).raw().toBuffer();
      } catch (e) {
        throw new PinholeError('bad_image', `cannot decode image: ${(e as Error).message}`);
      }
      while (this.gate) await this.gate;
      return { model, image: { width: meta.width ?? 0, height: meta.height ?? 0 }, detections: [], timing_ms: { decode: 0, queue: 0, infer: 0, post: 0 } };
    } finally {
      this.active--;
    }
  }

  async infer(model: string, inputs: Record<string, RawTensor>): Promise<Record<string, RawTensor>> {
    const x = inputs.input;
    if (!x) throw new PinholeError('bad_request', `model ${model} takes "input"`);
    return { output: x };
  }

  async close(): Promise<void> { this.closed = true; }
}

export async function pngBytes(w: number, h: number, rgb: [number, number, number] = [200, 30, 30]): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

export async function jpegBytes(w: number, h: number): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg().toBuffer();
}

/** A PNG whose header declares w x h pixels but holds almost no data: the classic decompression bomb. */
export async function pngBomb(w: number, h: number): Promise<Buffer> {
  const { crc32 } = await import('node:zlib');
  const png = Buffer.from(await pngBytes(8, 8));
  // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
  png.writeUInt32BE(w, 16);
  png.writeUInt32BE(h, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

export function multipartBody(field: string, data: Buffer, type = 'image/png'): { body: Buffer; contentType: string } {
  const boundary = '----pinhole' + Math.random().toString(16).slice(2);
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x"\r\nContent-Type: ${type}\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Parses Prometheus text into name{labels} -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Sum of a metric's samples whose labels include all of `labels`. */
export function metricSum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let s = 0;
  for (const [k, v] of m) {
    const base = k.split('{')[0];
    if (base !== name) continue;
    if (Object.entries(labels).every(([lk, lv]) => k.includes(`${lk}="${lv}"`))) s += v;
  }
  return s;
}
