// The video half of `pinhole detect`: where each annotated video goes and the line printed for it.
import { basename, extname, join } from 'node:path';
import type { DetectPlan, Runtime } from '../runtime/runtime.ts';
import { UsageError } from './errors.ts';
import { VIDEO_EXTS, type Input } from './inputs.ts';
import { detectVideo } from './video.ts';

export interface VideoCliOptions {
  save?: string;
  json?: boolean;
  /** image inputs given beside the videos */
  images: number;
}

/** --save names the video file itself (one video, nothing else) or a folder for all outputs. */
export function videoTargets(videos: ReadonlyArray<Input & { kind: 'video' }>, o: VideoCliOptions): Array<string | undefined> {
  if (!o.save) return videos.map(() => undefined);
  if (VIDEO_EXTS.has(extname(o.save).toLowerCase())) {
    if (videos.length > 1 || o.images > 0) throw new UsageError(`--save ${o.save} names one video file; with several inputs give a folder`);
    return [o.save];
  }
  const used = new Set<string>();
  return videos.map((v) => {
    const stem = basename(v.path, extname(v.path));
    let name = `${stem}.mp4`;
    for (let k = 2; used.has(name); k++) name = `${stem}-${k}.mp4`;
    used.add(name);
    return join(o.save!, name);
  });
}

export async function runVideos(rt: Runtime, plan: DetectPlan, videos: ReadonlyArray<Input & { kind: 'video' }>, o: VideoCliOptions): Promise<void> {
  const targets = videoTargets(videos, o);
  for (const [i, v] of videos.entries()) {
    const s = await detectVideo(rt, plan, v.path, { save: targets[i], json: o.json }, process.stdout);
    const wrote = targets[i] ? `; wrote ${targets[i]} and ${s.jsonl}` : '';
    // with --json stdout carries only the JSON lines
    (o.json ? process.stderr : process.stdout).write(`${v.name}: ${s.frames} frames ${s.info.width}x${s.info.height}, `
      + `${s.detections} detections, ${s.fps.toFixed(1)} frames/s (${s.seconds.toFixed(2)} s)${wrote}\n`);
  }
}
