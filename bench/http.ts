// Load benchmark for POST /v1/detect (autocannon, loopback, bounded duration), and in the same run the
// ceiling: the same pipeline in-process without HTTP (runCeiling: decode + letterbox, ORT at the batch the
// server reached, decode + NMS). Then a run at half of the measured peak for the latency spread.
//
//   node --import tsx bench/http.ts [--models models] [--model NAME] [--image /usr/share/darknet/data/dog.jpg]
//     [--duration 10] [--rounds 2] [--connections 16] [--max-batch 4] [--batch-delay-ms 2] [--workers N]
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { runCeiling, type CeilingResult } from '../src/runtime/ceiling.ts';
import { buildApp } from '../src/server/app.ts';
import type { ServerRuntime } from '../src/server/contract.ts';
import { startServer } from '../src/server/lifecycle.ts';
import { counter, cpuSeconds, loadAverage as load, SERVING_OPTIONS, servingSetup, startServerChild, threadsOf } from './server-child.ts';
import { resolveParams } from '../src/vision/params.ts';

const { values: o } = parseArgs({
  options: {
    ...SERVING_OPTIONS,
    connections: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
  },
});

const { model, image, duration, flags } = servingSetup(o);
const connections = Number(o.connections);
const rounds = Math.max(1, Number(o.rounds));
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const ms = (v: number) => `${v.toFixed(1)} ms`;

console.log(`http bench: model ${model.name} (${model.kind}), image ${o.image} (${image.length} bytes), ${connections} connections, `
  + `${duration}s per run, ${rounds} round(s), max batch ${o['max-batch']}, batch delay ${o['batch-delay-ms']} ms; load ${load()}`);

await httpLayerCost();
const server = await startServerChild(model, flags);
console.log(`server: ${server.url}, ${threadsOf(server.log())}`);
const url = `${server.url}/v1/detect?model=${encodeURIComponent(model.name)}`;
const shoot = (extra: { overallRate?: number; duration: number }): Promise<Result> => autocannon({
  url, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' }, connections, timeout: 30, ...extra,
});

interface Run { rps: number; p50: number; p99: number; avgBatch: number; ok: number; bad: number; cpuMsPerImage: number; clientCores: number }
async function measured(extra: { overallRate?: number; duration: number }): Promise<Run> {
  const i0 = await counter(server.url, 'pinhole_inference_total', model.name);
  const e0 = await counter(server.url, 'pinhole_execution_total', model.name);
  const c0 = cpuSeconds(server.child.pid!);
  const k0 = process.cpuUsage();
  const r = await shoot(extra);
  const k = process.cpuUsage(k0);
  const cpu = cpuSeconds(server.child.pid!) - c0;
  const i1 = await counter(server.url, 'pinhole_inference_total', model.name);
  const e1 = await counter(server.url, 'pinhole_execution_total', model.name);
  return { rps: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, avgBatch: (i1 - i0) / Math.max(1, e1 - e0), ok: r['2xx'], bad: r.non2xx + r.errors + r.timeouts,
    cpuMsPerImage: (1000 * cpu) / Math.max(1, r['2xx']), clientCores: (k.user + k.system) / 1e6 / r.duration };
}

/**
 * What the HTTP layer alone costs: the same Fastify app in this process with a runtime that answers at once
 * (no decode, no inference, a fixed 5-box response), loaded the same way. CPU per request covers Fastify,
 * the body, the JSON reply and autocannon's own side; it is what HTTP adds to every image.
 */
async function httpLayerCost(): Promise<void> {
  const info = { name: 'noop', dir: '', status: 'ready' as const, kind: 'yolov2' as const, classes: 20 };
  const box = { class_id: 11, class: 'dog', score: 0.8, box: { x1: 131.2, y1: 221.9, x2: 310.5, y2: 541 } };
  const answer = (model: string) => ({ model, image: { width: 768, height: 576 }, detections: Array(5).fill(box), timing_ms: { decode: 0, queue: 0, infer: 0, post: 0 } });
  const plan = (model = 'noop') => ({ model, params: resolveParams({ kind: 'yolov2', names: [] }), asked: {} });
  const runtime: ServerRuntime = {
    models: () => [info],
    model: (n) => (n === 'noop' ? info : undefined),
    resolveDetect: (m) => plan(m),
    runDetect: async (p) => answer(p.model),
    detect: async (m) => answer(plan(m).model),
    infer: async () => ({}),
    close: async () => {},
  };
  const app = await buildApp({ runtime });
  const s = await startServer({ app, runtime, host: '127.0.0.1', port: 0 });
  try {
    const opts = { url: `${s.url}/v1/detect?model=noop`, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' }, connections };
    await autocannon({ ...opts, duration: 1 });
    const c0 = process.cpuUsage();
    const r = await autocannon({ ...opts, duration: Math.min(5, duration) });
    const c = process.cpuUsage(c0);
    console.log(`HTTP layer alone (no-op runtime, in-process): ${(r['2xx'] / r.duration).toFixed(0)} requests/s, `
      + `${((c.user + c.system) / 1000 / Math.max(1, r['2xx'])).toFixed(2)} ms CPU per request (server + client)`);
  } finally {
    await s.close();
  }
}

// Server and ceiling runs alternate over --rounds so that background load hits both alike; the ceiling
// runs while the server idles (its workers sleep between requests), never during a server run.
const peaks: Run[] = [];
const ceils: CeilingResult[] = [];
let half: Run;
try {
  await shoot({ duration: Math.min(3, duration) }); // warm-up: JIT, connection pool, allocator
  for (let r = 1; r <= rounds; r++) {
    const peak = await measured({ duration });
    peaks.push(peak);
    console.log(`round ${r} server, peak: ${peak.rps.toFixed(1)} images/s, latency p50 ${ms(peak.p50)} p99 ${ms(peak.p99)}, average batch ${peak.avgBatch.toFixed(2)}`
      + ` (pinhole_inference_total / pinhole_execution_total), ${peak.ok} ok, ${peak.bad} not ok; server CPU ${peak.cpuMsPerImage.toFixed(0)} ms/image, autocannon ${peak.clientCores.toFixed(2)} cores`);
    // the ceiling at the batch the server reached in its first round
    const batch = Math.max(1, Math.round(peaks[0].avgBatch));
    const c = await runCeiling({ modelDir: model.dir, images: [image], batch, durationMs: duration * 1000, workers: o.workers ? Number(o.workers) : undefined });
    ceils.push(c);
    console.log(`round ${r} ceiling (in-process, no HTTP, batch ${batch}, ${c.workers} worker(s) x ${c.intraOpThreads} thread(s), ${c.ep}): `
      + `${c.imagesPerSec.toFixed(1)} images/s (ORT ${ms(c.inferMsPerBatch)}/batch, decode ${ms(c.decodeMsPerImage)}/image, post ${ms(c.postMsPerBatch)}/batch)`
      + ` -> server/ceiling ${((100 * peak.rps) / c.imagesPerSec).toFixed(1)}%`);
  }
  const rate = Math.max(1, Math.floor(mean(peaks.map((p) => p.rps)) / 2));
  half = await measured({ duration, overallRate: rate });
  console.log(`server, half load (${rate} req/s offered): ${half.rps.toFixed(1)} images/s, latency p50 ${ms(half.p50)} p99 ${ms(half.p99)}`
    + `, p99/p50 ${(half.p99 / half.p50).toFixed(2)}, average batch ${half.avgBatch.toFixed(2)}, ${half.bad} not ok`);
} finally {
  const code = await server.stop();
  if (code !== 0) console.log(`(server exited with code ${code})`);
}

const serverRps = mean(peaks.map((p) => p.rps));
const ceilRps = mean(ceils.map((c) => c.imagesPerSec));
const ratio = serverRps / ceilRps;
const spread = half.p99 / half.p50;
console.log('');
console.log(`server ${serverRps.toFixed(1)} images/s (p50 ${ms(mean(peaks.map((p) => p.p50)))}, p99 ${ms(mean(peaks.map((p) => p.p99)))}, `
  + `average batch ${mean(peaks.map((p) => p.avgBatch)).toFixed(2)}), ceiling ${ceilRps.toFixed(1)} images/s, means of ${rounds} round(s)`);
console.log(`server / ceiling = ${(ratio * 100).toFixed(1)}%  (target >= 85%: ${ratio >= 0.85 ? 'met' : 'NOT met'})`);
console.log(`p99 / p50 at half load = ${spread.toFixed(2)}  (target <= 3: ${spread <= 3 ? 'met' : 'NOT met'})`);
console.log(`load average now ${load()} (other work on the machine lowers every figure)`);
