// A detection job: what the runtime's door makes of one request, resolved once. It travels unchanged
// through the batcher into a worker, which trusts it (vision/postprocess decodeJobs).
import { frameOf } from '../vision/letterbox.ts';
import type { ImageJob } from '../vision/postprocess.ts';
import type { ImageSize, ResolvedParams } from '../vision/types.ts';
import type { Preprocessed } from './preprocess.ts';

export interface DetectJob extends ImageJob {
  /** C*H*W float32, one slot of the NCHW batch (transferred to the worker) */
  tensor: Float32Array;
}

/** The job of one preprocessed image: its tensor, and the box frame of the geometry that made it. */
export function detectJob(pre: Preprocessed, params: ResolvedParams): DetectJob {
  return { tensor: pre.data, frame: frameOf(pre.geometry, pre), params };
}

export function imageSize(job: DetectJob): ImageSize {
  return { width: job.frame.imW, height: job.frame.imH };
}
