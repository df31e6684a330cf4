// Load benchmark for POST /v1/detect (autocannon, loopback, bounded duration), and in the same run the
// ceiling: the same pipeline in-process without HTTP (runCeiling: decode + letterbox, ORT at the batch the
// server reached, decode + NMS). Then a run at half of the measured peak for the latency spread.
//
//   node --import tsx bench/http.ts [--models models] [--model NAME] [--image /usr/share/darknet/data/dog.jpg]
//     [--duration 10] [--connections 16] [--max-batch 4] [--batch-delay-ms 2] [--workers N]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { runCeiling } from '../src/runtime/ceiling.ts';
import { counter, noModelHelp, pickDetector, startServerChild, threadsOf } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    models: { type: 'string', default: 'models' },
    model: { type: 'string' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'max-batch': { type: 'string', default: '4' },
    'batch-delay-ms': { type: 'string', default: '2' },
    workers: { type: 'string' },
  },
});

const model = pickDetector(o.models, o.model);
if (!model) {
  console.error(noModelHelp(o.models, o.model));
  process.exit(1);
}
const image = readFileSync(o.image);
const duration = Number(o.duration);
const connections = Number(o.connections);
const flags = ['--max-batch', o['max-batch'], '--batch-delay-ms', o['batch-delay-ms'], '--log-level', 'info'];
if (o.workers) flags.push('--workers', o.workers);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const ms = (v: number) => `${v.toFixed(1)} ms`;

console.log(`http bench: model ${model.name} (${model.kind}), image ${o.image} (${image.length} bytes), ${connections} connections, `
  + `${duration}s per run, max batch ${o['max-batch']}, batch delay ${o['batch-delay-ms']} ms; load ${load()}`);

const server = await startServerChild(model, flags);
console.log(`server: ${server.url}, ${threadsOf(server.log())}`);
const url = `${server.url}/v1/detect?model=${encodeURIComponent(model.name)}`;
const shoot = (extra: { overallRate?: number; duration: number }): Promise<Result> => autocannon({
  url, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' }, connections, timeout: 30, ...extra,
});

interface Run { rps: number; p50: number; p99: number; avgBatch: number; ok: number; bad: number }
async function measured(extra: { overallRate?: number; duration: number }): Promise<Run> {
  const i0 = await counter(server.url, 'pinhole_inference_count', model!.name);
  const e0 = await counter(server.url, 'pinhole_execution_count', model!.name);
  const r = await shoot(extra);
  const i1 = await counter(server.url, 'pinhole_inference_count', model!.name);
  const e1 = await counter(server.url, 'pinhole_execution_count', model!.name);
  return { rps: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, avgBatch: (i1 - i0) / Math.max(1, e1 - e0), ok: r['2xx'], bad: r.non2xx + r.errors + r.timeouts };
}

let peak: Run, half: Run;
try {
  await shoot({ duration: Math.min(3, duration) }); // warm-up: JIT, connection pool, allocator
  peak = await measured({ duration });
  console.log(`server, peak:   ${peak.rps.toFixed(1)} images/s, latency p50 ${ms(peak.p50)} p99 ${ms(peak.p99)}, average batch ${peak.avgBatch.toFixed(2)}`
    + ` (pinhole_inference_count / pinhole_execution_count), ${peak.ok} ok, ${peak.bad} not ok`);
  const rate = Math.max(1, Math.floor(peak.rps / 2));
  half = await measured({ duration, overallRate: rate });
  console.log(`server, half load (${rate} req/s offered): ${half.rps.toFixed(1)} images/s, latency p50 ${ms(half.p50)} p99 ${ms(half.p99)}`
    + `, p99/p50 ${(half.p99 / half.p50).toFixed(2)}, average batch ${half.avgBatch.toFixed(2)}, ${half.bad} not ok`);
} finally {
  const code = await server.stop();
  if (code !== 0) console.log(`(server exited with code ${code})`);
}

// The ceiling runs after the server has stopped, so the two never compete for the cores.
const batch = Math.max(1, Math.round(peak.avgBatch));
const ceil = await runCeiling({ modelDir: model.dir, images: [image], batch, durationMs: duration * 1000, workers: o.workers ? Number(o.workers) : undefined });
console.log(`ceiling (in-process, no HTTP, batch ${batch}, ${ceil.workers} worker(s) x ${ceil.intraOpThreads} thread(s), ${ceil.ep}): `
  + `${ceil.imagesPerSec.toFixed(1)} images/s (ORT ${ms(ceil.inferMsPerBatch)}/batch, decode ${ms(ceil.decodeMsPerImage)}/image, post ${ms(ceil.postMsPerBatch)}/batch)`);

const ratio = peak.rps / ceil.imagesPerSec;
const spread = half.p99 / half.p50;
console.log('');
console.log(`server / ceiling = ${(ratio * 100).toFixed(1)}%  (target >= 85%: ${ratio >= 0.85 ? 'met' : 'NOT met'})`);
console.log(`p99 / p50 at half load = ${spread.toFixed(2)}  (target <= 3: ${spread <= 3 ? 'met' : 'NOT met'})`);
console.log(`load average now ${load()} (other work on the machine lowers every figure)`);
