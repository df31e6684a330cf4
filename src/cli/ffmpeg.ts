// Debian's ffmpeg/ffprobe, spawned: probing a video, decoding it to raw RGB frames on a pipe, and encoding
// raw RGB frames back into a video file. No JPEG round trip anywhere: frames go to the runtime as pixels.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';

export const INSTALL_HINT = 'ffmpeg not found on PATH: install it (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg)';

/** Throws the one-line install hint when ffmpeg or ffprobe cannot be run. */
export function requireFfmpeg(): void {
  for (const tool of ['ffmpeg', 'ffprobe']) {
    const r = spawnSync(tool, ['-version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) throw new Error(INSTALL_HINT);
  }
}

export interface VideoInfo {
  width: number;
  height: number;
  /** frames per second, as a number and as ffmpeg wrote it (e.g. "30000/1001") */
  fps: number;
  rate: string;
}

interface ProbedStream {
  width: number;
  height: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  side_data_list?: Array<{ rotation?: number }>;
  tags?: { rotate?: string };
}

export function probe(file: string): VideoInfo {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
    'stream=width,height,r_frame_rate,avg_frame_rate:stream_side_data=rotation:stream_tags=rotate', '-of', 'json', file], { encoding: 'utf8' });
  if (r.error) throw new Error(INSTALL_HINT);
  const s = r.status === 0 ? (JSON.parse(r.stdout) as { streams?: ProbedStream[] }).streams?.[0] : undefined;
  if (!s) throw new Error(`${file}: not a video ffmpeg can read${r.stderr ? ` (${r.stderr.trim().split('\n')[0]})` : ''}`);
  const rate = String(s.avg_frame_rate && s.avg_frame_rate !== '0/0' ? s.avg_frame_rate : s.r_frame_rate);
  const [num, den] = rate.split('/').map(Number);
  const fps = den ? num / den : num;
  // ffmpeg applies the rotation a phone records (display matrix) when decoding: a quarter turn swaps the sides
  const turn = Math.abs(Number(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? s.tags?.rotate ?? 0)) % 180;
  const [width, height] = turn === 90 ? [Number(s.height), Number(s.width)] : [Number(s.width), Number(s.height)];
  return { width, height, fps: Number.isFinite(fps) && fps > 0 ? fps : 25, rate: Number.isFinite(fps) && fps > 0 ? rate : '25' };
}

/**
 * ffmpeg decoding the first video stream of `file` to rgb24 frames on stdout, each decoded frame exactly once:
 * rawvideo output defaults to constant-rate sync, which duplicates or drops frames wherever the timestamps
 * leave a gap (an AVI whose first frame is stamped 1, such as OpenCV's Megamind.avi, gained a copy of its
 * first frame), so `-fps_mode passthrough` (ffmpeg 5.1+; -vsync is gone from ffmpeg 9).
 */
export function decoder(file: string): ChildProcessWithoutNullStreams {
  return spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { stdio: 'pipe' });
}

/** ffmpeg encoding rgb24 frames from stdin into `out` (codec from the container; H.264 for .mp4). */
export function encoder(out: string, v: VideoInfo): ChildProcessWithoutNullStreams {
  return spawn('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${v.width}x${v.height}`, '-r', v.rate,
    '-i', '-', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-pix_fmt', 'yuv420p', out], { stdio: 'pipe' });
}

/** Resolves when the process exits 0; otherwise rejects with its last stderr line. */
export function finished(p: ChildProcessWithoutNullStreams, what: string): Promise<void> {
  let err = '';
  p.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
  return new Promise((resolve, reject) => {
    p.on('error', (e) => reject(new Error(`${what}: ${e.message}`)));
    p.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`})${err ? `: ${err.trim().split('\n').pop()}` : ''}`));
    });
  });
}

/** Cuts a byte stream into frames of `size` bytes (the last partial one, if any, is an error). */
export async function* frames(stream: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let cur = Buffer.allocUnsafe(size);
  let fill = 0;
  for await (const chunk of stream) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(size - fill, chunk.length - off);
      chunk.copy(cur, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === size) {
        yield cur;
        cur = Buffer.allocUnsafe(size);
        fill = 0;
      }
    }
  }
  if (fill) throw new Error(`the decoder ended inside a frame (${fill} of ${size} bytes)`);
}
