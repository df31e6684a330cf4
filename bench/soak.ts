// Soak: `pinhole serve` (child process) under a mixed load for N minutes (detect, generate, sample, KServe
// infer, a WebSocket stream, and a trickle of malformed requests), with the server's RSS sampled every
// second from /proc. Prints RSS at the end of warm-up, its maximum and its end value, the growth after
// warm-up, the answers by kind and status, and the load average (other work on the machine slows
// everything; the RSS figures do not depend on it).
//
//   node --import tsx bench/soak.ts [--minutes 3] [--models models] [--detector yolov2-synth] [--warmup-s 30]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadAverage, startServerChild } from './server-child.ts';

const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    models: { type: 'string', default: 'models' },
    detector: { type: 'string', default: 'yolov2-synth' },
    wgan: { type: 'string', default: 'wgan-synth' },
    stackgan: { type: 'string', default: 'stackgan-synth' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    'warmup-s': { type: 'string', default: '30' },
  },
});
const durationMs = Number(a.minutes) * 60_000;
const warmupMs = Math.min(Number(a['warmup-s']) * 1000, durationMs / 2);
const image = readFileSync(a.image);

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function startServer(): Promise<{ url: string; pid: number; stop(): Promise<number | null> }> {
  const models = [a.detector!, a.wgan!, a.stackgan!].map((name) => ({ name, dir: resolve(a.models!, name), kind: '' }));
  // the malformed requests are logged (info) for the whole run: keep the tail only
  const s = await startServerChild(models, [], 180_000, 8192);
  while ((await fetch(`${s.url}/v2/health/ready`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 100));
  return { url: s.url, pid: s.child.pid!, stop: () => s.stop() };
}

type Tally = Map<string, number>;
const bump = (t: Tally, k: string) => t.set(k, (t.get(k) ?? 0) + 1);

async function main(): Promise<void> {
  const s = await startServer();
  const tally: Tally = new Map();
  const end = Date.now() + durationMs;
  const loop = async (kind: string, send: () => Promise<Response>) => {
    while (Date.now() < end) {
      const r = await send().catch(() => undefined);
      if (r) await r.arrayBuffer();
      bump(tally, `${kind} ${r?.status ?? 'no answer'}`);
    }
  };
  const json = (path: string, body: unknown) => () => fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const z = Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i));
  const junk = [
    () => fetch(`${s.url}/v1/detect?thresh=7`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } }),
    () => fetch(`${s.url}/v1/detect`, { method: 'POST', body: image.subarray(0, 2000), headers: { 'content-type': 'image/jpeg' } }),
    json(`/v2/models/${a.wgan}/infer`, { inputs: [{ name: 'z', shape: [5000, 64], datatype: 'FP32', data: [] }] }),
    json('/v1/generate', { text: 'x', seed: null }),
    () => fetch(`${s.url}/v1/models`, { method: 'DELETE' }),
  ];
  let j = 0;

  const samples: Array<{ t: number; rss: number }> = [];
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push({ t: Date.now() - t0, rss: rssMiB(s.pid) }), 1000);

  let wsResults = 0;
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/v1/stream?model=${a.detector}`);
  ws.on('message', () => { wsResults++; });
  await new Promise((r, e) => { ws.on('open', r); ws.on('error', e); });
  const frames = setInterval(() => ws.send(image), 50);

  await Promise.all([
    loop('detect', () => fetch(`${s.url}/v1/detect?model=${a.detector}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } })),
    loop('detect', () => fetch(`${s.url}/v1/detect?model=${a.detector}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } })),
    loop('generate', json('/v1/generate', { text: 'a red circle on the left and a blue square', seed: 7 })),
    loop('sample', () => fetch(`${s.url}/v1/sample?model=${a.wgan}&n=4`)),
    loop('kserve', json(`/v2/models/${a.wgan}/infer`, { inputs: [{ name: 'z', shape: [8, 64], datatype: 'FP32', data: z }] })),
    loop('malformed', () => junk[j++ % junk.length]()),
  ]);
  clearInterval(frames);
  ws.close();
  clearInterval(sampler);
  samples.push({ t: Date.now() - t0, rss: rssMiB(s.pid) });
  const code = await s.stop();

  const after = samples.filter((x) => x.t >= warmupMs);
  const start = after[0]?.rss ?? NaN;
  const max = Math.max(...after.map((x) => x.rss));
  const last = samples.at(-1)!.rss;
  const first = samples[0]?.rss ?? NaN;
  console.log(`soak: ${a.minutes} min, detector ${a.detector}, wgan ${a.wgan}, stackgan ${a.stackgan}; load average ${loadAverage()}`);
  console.log(`RSS MiB: first sample ${first.toFixed(0)}, after ${warmupMs / 1000} s warm-up ${start.toFixed(0)}, max ${max.toFixed(0)}, end ${last.toFixed(0)}; `
    + `growth after warm-up ${(last - start).toFixed(0)} (max ${(max - start).toFixed(0)})`);
  const every = Math.max(1, Math.round(samples.length / 12));
  console.log(`RSS MiB over time: ${samples.filter((_, i) => i % every === 0).map((x) => `${Math.round(x.t / 1000)}s ${x.rss.toFixed(0)}`).join(', ')}`);
  for (const [k, v] of [...tally].sort()) console.log(`  ${k}: ${v}`);
  console.log(`  websocket results: ${wsResults}`);
  const fives = [...tally].filter(([k]) => / 5\d\d$/.test(k) && !/ 503$/.test(k)).reduce((n, [, v]) => n + v, 0);
  console.log(`5xx other than 503 (overload): ${fives}; server exit code on SIGTERM: ${code}`);
}

await main();
