// WebSocket stream benchmark: S concurrent /v1/stream connections, each sending one JPEG frame every
// 1/fps seconds (a camera), against `pinhole serve` in a child process. Prints, per S: frames/s offered
// and processed, frames dropped (newest wins: the server's own count, reported in every result) and the
// end-to-end latency of processed frames (send -> result received), p50 and p99.
//
// Also the server's own per-frame spans (the timing_ms of the results) and the CPU of the server and of
// this client, which share the machine's cores.
//
//   node --import tsx bench/ws.ts [--models models] [--model NAME] [--image /usr/share/darknet/data/dog.jpg]
//     [--image-size 640x480] [--duration 10] [--fps 30] [--streams 1,8] [--max-batch N] [--batch-delay-ms D]
//     [--workers N] [--threads N] [--solo-threads N] [--stream-in-flight N]
import { parseArgs } from 'node:util';
import { cameraFrame, percentile, runStream, type Spans } from './ws-client.ts';
import { collections, counter, cpuSeconds, loadAverage as load, SERVING_OPTIONS, servingSetup, startServerChild, threadsOf } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    ...SERVING_OPTIONS,
    fps: { type: 'string', default: '30' },
    streams: { type: 'string', default: '1,8' },
    // a camera's frame size: --image resized to WxH and sent as JPEG q90 (dog.jpg at 640x480: 91 980 bytes)
    'image-size': { type: 'string' },
    // the server's --stream-in-flight (default: inference workers + 1)
    'stream-in-flight': { type: 'string' },
  },
});

const { model, image: original, duration, flags } = servingSetup(o);
if (o['stream-in-flight'] !== undefined) flags.push('--stream-in-flight', o['stream-in-flight']);
const image = o['image-size'] ? await cameraFrame(original, o['image-size']) : original;
const fps = Number(o.fps);
const streamCounts = o.streams.split(',').map(Number);

console.log(`ws bench: model ${model.name} (${model.kind}), image ${o.image}${o['image-size'] ? ` at ${o['image-size']}` : ''} (${image.length} bytes), ${fps} fps per stream, `
  + `${duration}s per run, streams ${streamCounts.join(',')}; load ${load()}`);
// --trace-gc: the server's full collections per run are printed (bench/README.md "GC under 8 streams")
const server = await startServerChild(model, flags, 180_000, Infinity, { nodeArgs: ['--trace-gc'] });
console.log(`server: ${server.url}, ${threadsOf(server.log())}`);
try {
  const wsUrl = `${server.url.replace('http', 'ws')}/v1/stream?model=${encodeURIComponent(model.name)}`;
  await runStream(wsUrl, Math.min(2, duration), fps, image); // warm-up
  for (const n of streamCounts) {
    const p0 = await counter(server.url, 'pinhole_stream_frames_total', model.name);
    const i0 = await counter(server.url, 'pinhole_inference_total', model.name);
    const e0 = await counter(server.url, 'pinhole_execution_total', model.name);
    const c0 = cpuSeconds(server.child.pid!);
    const logAt = server.log().length;
    const k0 = process.cpuUsage();
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: n }, () => runStream(wsUrl, duration, fps, image)));
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.child.pid!) - c0;
    const k = process.cpuUsage(k0);
    const clientCpu = (k.user + k.system) / 1e6;
    const i1 = await counter(server.url, 'pinhole_inference_total', model.name);
    const e1 = await counter(server.url, 'pinhole_execution_total', model.name);
    const p1 = await counter(server.url, 'pinhole_stream_frames_total', model.name);
    const sent = all.reduce((a, s) => a + s.sent, 0);
    const processed = all.reduce((a, s) => a + s.processed, 0);
    const dropped = all.reduce((a, s) => a + s.dropped, 0);
    const errors = all.reduce((a, s) => a + s.errors, 0);
    const lat = all.flatMap((s) => s.latencies).sort((a, b) => a - b);
    const p50 = percentile(lat, 50), p99 = percentile(lat, 99);
    // fairness: each stream's processed frames against the mean over streams
    const per = all.map((x) => x.processed);
    const meanPer = processed / n;
    const span = (k: keyof Spans) => (all.reduce((a, x) => a + x.spans[k], 0) / Math.max(1, processed)).toFixed(1);
    const spans = `server spans per frame (ms): decode ${span('decode')}, queue ${span('queue')}, infer ${span('infer')}, post ${span('post')}`;
    const spread = `per stream ${Math.min(...per)}-${Math.max(...per)} frames (${((100 * (Math.min(...per) - meanPer)) / meanPer).toFixed(0)}% / +${((100 * (Math.max(...per) - meanPer)) / meanPer).toFixed(0)}% of the mean)`;
    console.log(`${n} stream(s): offered ${(sent / duration).toFixed(1)} frames/s, processed ${(processed / seconds).toFixed(1)} frames/s `
      + `(${(processed / seconds / n).toFixed(1)} per stream), dropped ${dropped} of ${sent} (${((100 * dropped) / sent).toFixed(1)}%), errors ${errors}, `
      + `${spread}, end-to-end latency p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms, average batch ${((i1 - i0) / Math.max(1, e1 - e0)).toFixed(2)}`
      + `; server counted ${p1 - p0} frames (processed + dropped + error); CPU: server ${((1000 * serverCpu) / processed).toFixed(1)} ms per processed frame`
      + ` (${(serverCpu / seconds).toFixed(2)} cores), this client ${(clientCpu / seconds).toFixed(2)} cores; ${spans}; ${collections(server.log().slice(logAt))}`);
  }
} finally {
  const code = await server.stop();
  if (code !== 0) console.log(`(server exited with code ${code})`);
}
console.log(`load average now ${load()} (other work on the machine lowers every figure)`);
