// Video clips made from the generated shape scenes (src/train/data/synth.ts) with ffmpeg: for the video CLI
// test, the browser test's fake camera (.y4m) and bench/video.ts. Which frames hold shapes is known.
import { spawn, spawnSync } from 'node:child_process';
import { synthScene } from '../../src/train/data/synth.ts';

export interface ClipOptions {
  frames: number;
  width?: number;
  height?: number;
  fps?: number;
  /** frames that show a plain grey picture with no shape */
  blank?: (frame: number) => boolean;
  /** frames one scene is held for (a scene per frame flickers) */
  hold?: number;
  seed?: number;
}

export const hasFfmpeg = (): boolean => ['ffmpeg', 'ffprobe'].every((t) => !spawnSync(t, ['-version'], { stdio: 'ignore' }).error);

/** RGB pixels of every frame, and whether it holds shapes. */
export function clipFrames(o: ClipOptions): Array<{ rgb: Uint8Array; shapes: number }> {
  const width = o.width ?? 320, height = o.height ?? 240, hold = o.hold ?? 1;
  return Array.from({ length: o.frames }, (_, i) => {
    const blank = o.blank?.(i) ?? false;
    const s = synthScene(o.seed ?? 4242, Math.floor(i / hold), blank
      ? { width, height, plain: true, minObjects: 0, maxObjects: 0 }
      : { width, height, minObjects: 2, maxObjects: 4, minSize: 0.25, maxSize: 0.5 });
    return { rgb: s.rgb, shapes: s.objects.length };
  });
}

/** Encodes the frames into `out` (format from its extension: .mp4 H.264, .y4m raw 4:2:0 for Chromium's fake camera). */
export async function writeClip(out: string, frames: ReadonlyArray<{ rgb: Uint8Array }>, o: ClipOptions): Promise<void> {
  const width = o.width ?? 320, height = o.height ?? 240;
  const p = spawn('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(o.fps ?? 10),
    '-i', '-', '-pix_fmt', 'yuv420p', out], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const done = new Promise<void>((resolve, reject) => p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`ffmpeg: ${err}`)))));
  for (const f of frames) if (!p.stdin.write(f.rgb)) await new Promise((r) => p.stdin.once('drain', r));
  p.stdin.end();
  await done;
}

/** Frames in a video file, counted by decoding it. */
export function countFrames(file: string): number {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return Number(r.stdout.trim());
}
