// The "ceiling" for the load benchmark: the server's own pipeline (sharp decode + letterbox into
// float32 NCHW, ORT in the same worker threads at a fixed batch, decode + NMS) run in-process with
// no HTTP, no queueing and no batcher. Each worker is fed back to back, with the next batch decoded
// while the current one runs, so nothing but the pipeline's own work limits the figure.
import { basename, resolve } from 'node:path';
import { isDetector } from '../manifest.ts';
import { resolveParams } from '../vision/params.ts';
import { readModelFolder } from './folder.ts';
import type { DetectJob } from './protocol.ts';
import { pixelLayout, preprocess } from './preprocess.ts';
import { Sessions } from './sessions.ts';
import type { Spinning } from './ort-session.ts';
import type { DetectParams, RuntimeLogger } from './types.ts';

export interface CeilingOptions {
  /** one model folder */
  modelDir: string;
  /** encoded images, used round-robin */
  images: Uint8Array[];
  /** images per ORT run (the batch the server reached, to compare like with like) */
  batch: number;
  /** measuring time after a short warm-up (default 5000 ms) */
  durationMs?: number;
  eps?: string | readonly string[];
  workers?: number;
  intraOpThreads?: number;
  intraOpSpinning?: Spinning;
  params?: DetectParams;
  maxInputPixels?: number;
  log?: RuntimeLogger;
}

export interface CeilingResult {
  model: string;
  ep: string;
  batch: number;
  workers: number;
  intraOpThreads: number;
  images: number;
  seconds: number;
  imagesPerSec: number;
  /** mean ms per batch in ORT, and in decode + NMS (both in the worker) */
  inferMsPerBatch: number;
  postMsPerBatch: number;
  /** mean ms to decode + preprocess one image (in libuv threads, overlapped with inference) */
  decodeMsPerImage: number;
  detectionsPerImage: number;
}

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };

export async function runCeiling(o: CeilingOptions): Promise<CeilingResult> {
  if (!o.images.length) throw new Error('ceiling: no images');
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new Error(`ceiling: batch must be a positive integer, got ${o.batch}`);
  const dir = resolve(o.modelDir);
  const name = basename(dir);
  const files = await readModelFolder(dir);
  const m = files.manifest;
  if (!isDetector(m)) throw new Error(`ceiling: ${name} is a ${m.kind} model, not a detector`);
  const log = o.log ?? quiet;
  // the ceiling drives the workers' own sessions directly: no solo session
  const sessions = await Sessions.start({ eps: o.eps, workers: o.workers, intraOpThreads: o.intraOpThreads, soloThreads: 0, spinning: o.intraOpSpinning, log });
  try {
    const model = await sessions.load(name, dir, m, files.file, o.batch, true);
    if (model.maxBatch < o.batch) throw new Error(`ceiling: ${name} runs batches of at most ${model.maxBatch}`);
    const params = resolveParams(m, o.params);
    let next = 0;
    let decodeMs = 0;
    let decoded = 0;
    const decodeOne = async (): Promise<DetectJob> => {
      const t0 = performance.now();
      const p = await preprocess(o.images[next++ % o.images.length], m.input, pixelLayout(m), { maxInputPixels: o.maxInputPixels });
      decodeMs += performance.now() - t0;
      decoded++;
      return { tensor: p.data, frame: p.frame, params };
    };
    const decodeBatch = () => Promise.all(Array.from({ length: o.batch }, decodeOne));

    let counting = false;
    let images = 0, batches = 0, inferMs = 0, postMs = 0, dets = 0;
    let stopAt = Infinity;
    const feed = async (w: number): Promise<void> => {
      let pending = decodeBatch();
      while (performance.now() < stopAt) {
        const cur = await pending;
        pending = decodeBatch();
        const r = await sessions.runDetect(w, model, cur);
        if (counting) {
          images += cur.length;
          batches++;
          inferMs += r.inferMs;
          postMs += r.postMs;
          dets += r.detections.reduce((a, d) => a + d.length, 0);
        }
      }
      await pending;
    };
    // warm-up pass (JIT, allocator, sharp), then the measured window with every worker fed
    stopAt = performance.now() + Math.min(1000, (o.durationMs ?? 5000) / 5);
    await Promise.all(Array.from({ length: sessions.workers }, (_, w) => feed(w)));
    decodeMs = 0;
    decoded = 0;
    counting = true;
    const t0 = performance.now();
    stopAt = t0 + (o.durationMs ?? 5000);
    await Promise.all(Array.from({ length: sessions.workers }, (_, w) => feed(w)));
    const seconds = (performance.now() - t0) / 1000;
    await sessions.release(model);
    return {
      model: name,
      ep: model.ep,
      batch: o.batch,
      workers: sessions.plan.workers,
      intraOpThreads: sessions.plan.intraOpThreads,
      images,
      seconds,
      imagesPerSec: images / seconds,
      inferMsPerBatch: batches ? inferMs / batches : 0,
      postMsPerBatch: batches ? postMs / batches : 0,
      decodeMsPerImage: decoded ? decodeMs / decoded : 0,
      detectionsPerImage: images ? dets / images : 0,
    };
  } finally {
    await sessions.close();
  }
}
