// `pinhole detect MODEL clip.mp4 [--save out.mp4]`: every frame, decoded by ffmpeg to RGB, goes to the
// runtime as pixels (runtime.runDetect with a RawImage) through the same batcher as images and HTTP requests;
// a window of frames is in flight at once so batches form, and results are written in frame order: the
// annotated video (ffmpeg encode) and JSON lines {frame, time, detections}.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { annotateRaw } from '../runtime/annotate.ts';
import type { DetectPlan, Runtime } from '../runtime/runtime.ts';
import type { Detection } from '../runtime/types.ts';
import { decoder, encoder, finished, frames, probe, requireFfmpeg, type VideoInfo } from './ffmpeg.ts';

export interface VideoOptions {
  /** annotated video to write; its JSON lines go beside it (same name, .jsonl) */
  save?: string;
  /** JSON lines on `out` as well */
  json?: boolean;
  /** frames in flight at once (default 2 x the model's batch) */
  window?: number;
}

export interface VideoSummary {
  frames: number;
  detections: number;
  seconds: number;
  fps: number;
  /** mean ms the runtime spent turning a frame into the network input (timing_ms.decode) */
  decodeMs: number;
  info: VideoInfo;
  jsonl?: string;
}

export interface FrameResult {
  frame: number;
  time: number;
  detections: Detection[];
}

async function write(w: Writable, data: string | Uint8Array): Promise<void> {
  if (!w.write(data)) await once(w, 'drain');
}

export function jsonlPath(video: string): string {
  return video.replace(/\.[^./\\]+$/, '') + '.jsonl';
}

/** Detects every frame of `file` with the plan's model and parameters (resolved once, by the caller). */
export async function detectVideo(rt: Runtime, plan: DetectPlan, file: string, o: VideoOptions, out: Writable): Promise<VideoSummary> {
  requireFfmpeg();
  const info = probe(file);
  const size = info.width * info.height * 3;
  const window = o.window ?? 2 * (rt.model(plan.model)?.maxBatch ?? 4);
  const dec = decoder(file);
  const decDone = finished(dec, `decoding ${file}`);
  const enc = o.save ? (await mkdir(dirname(o.save), { recursive: true }), encoder(o.save, info)) : undefined;
  const encDone = enc ? finished(enc, `encoding ${o.save}`) : Promise.resolve();
  const jsonl: WriteStream | undefined = o.save ? createWriteStream(jsonlPath(o.save)) : undefined;
  const t0 = performance.now();
  let n = 0, total = 0, decodeMs = 0;
  const inFlight: Array<Promise<{ r: FrameResult; pixels?: Buffer }>> = [];
  const emit = async (): Promise<void> => {
    const { r, pixels } = await inFlight.shift()!;
    total += r.detections.length;
    const line = `${JSON.stringify(r)}\n`;
    if (jsonl) await write(jsonl, line);
    if (o.json) await write(out, line);
    if (enc && pixels) await write(enc.stdin, pixels);
  };
  try {
    for await (const data of frames(dec.stdout, size)) {
      const frame = n++;
      const raw = { data, width: info.width, height: info.height, channels: 3 as const };
      inFlight.push(rt.runDetect(plan, raw).then(async (res) => (decodeMs += res.timing_ms.decode, {
        r: { frame, time: Math.round((frame / info.fps) * 1e6) / 1e6, detections: res.detections },
        pixels: enc ? await annotateRaw(raw, res.detections) : undefined,
      })));
      if (inFlight.length >= window) await emit();
    }
    while (inFlight.length) await emit();
    enc?.stdin.end();
    await Promise.all([decDone, encDone]);
  } catch (e) {
    dec.kill();
    enc?.kill();
    // the frames still in flight settle on their own; nothing waits for them
    for (const p of inFlight) p.catch(() => {});
    throw e;
  } finally {
    if (jsonl) { jsonl.end(); await once(jsonl, 'close'); }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { frames: n, detections: total, seconds, fps: n / seconds, decodeMs: n ? decodeMs / n : 0, info, jsonl: jsonl ? jsonlPath(o.save!) : undefined };
}
