// The camera side of the WebSocket benches (bench/ws.ts, bench/ws-ab.ts): one /v1/stream connection sending
// the same encoded frame every 1/fps s on an absolute schedule, counting what comes back.
import sharp from 'sharp';
import WebSocket from 'ws';

/** The server's own spans of a processed frame (timing_ms of the result), summed over frames. */
export interface Spans { decode: number; queue: number; infer: number; post: number }

export interface StreamStats { sent: number; processed: number; dropped: number; errors: number; latencies: number[]; spans: Spans }

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A camera's frame: `bytes` resized to WIDTHxHEIGHT and encoded as JPEG q90 (dog.jpg at 640x480: 91 980 bytes). */
export async function cameraFrame(bytes: Buffer, size: string): Promise<Buffer> {
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) {
    console.error(`--image-size takes WIDTHxHEIGHT, e.g. 640x480; got "${size}"`);
    process.exit(2);
  }
  return sharp(bytes).resize(Number(m[1]), Number(m[2])).jpeg({ quality: 90 }).toBuffer();
}

/** One stream for `seconds`, then waits for the result of its last frame (the newest is always processed). */
export async function runStream(url: string, seconds: number, fps: number, image: Buffer): Promise<StreamStats> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const sentAt: number[] = [];
  const st: StreamStats = { sent: 0, processed: 0, dropped: 0, errors: 0, latencies: [], spans: { decode: 0, queue: 0, infer: 0, post: 0 } };
  let lastFrame = 0;
  ws.on('message', (data) => {
    const r = JSON.parse(data.toString()) as { frame: number; dropped: number; error?: unknown; timing_ms?: Spans };
    const now = performance.now();
    lastFrame = r.frame;
    st.dropped = r.dropped;
    if (r.error) { st.errors++; return; }
    st.processed++;
    st.latencies.push(now - sentAt[r.frame - 1]);
    for (const k of ['decode', 'queue', 'infer', 'post'] as const) st.spans[k] += r.timing_ms?.[k] ?? 0;
  });
  const period = 1000 / fps;
  const t0 = performance.now();
  // paced by absolute schedule, so a late timer does not lower the offered rate
  while (performance.now() - t0 < seconds * 1000) {
    sentAt.push(performance.now());
    ws.send(image);
    st.sent++;
    const next = t0 + st.sent * period;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  const tEnd = performance.now();
  while (lastFrame < st.sent && performance.now() - tEnd < 30_000) await new Promise((r) => setTimeout(r, 5));
  ws.close();
  return st;
}
