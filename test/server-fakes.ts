// A stand-in runtime for tests of the HTTP layer alone (routing, validation, error mapping, stream
// scheduling, metrics wiring). It decodes images with sharp so bad images fail as they would for real,
// but it runs no model: it returns no detections. End-to-end behaviour is tested against the real runtime.
import sharp from 'sharp';
import { PinholeError } from '../src/errors.ts';
import type { DetectParams, DetectionResponse, ModelInfo, RawTensor } from '../src/runtime/types.ts';
import type { DetectOptions, ServerRuntime } from '../src/server/contract.ts';

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

  async detect(model: string, bytes: Uint8Array, params: DetectParams, opts?: DetectOptions): Promise<DetectionResponse> {
    if (this.active >= this.queueLimit) throw new PinholeError('overloaded', 'queue full', { retryAfter: 1 });
    this.active++;
    try {
      this.calls.push({ model, bytes: bytes.length, params, opts });
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
