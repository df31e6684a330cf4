// One detection request at one connection, end to end: where its time and CPU go. Three parts:
//  1. the preprocessing in this process, piece by piece (header read, sharp's decode + resize, the whole
//     of preprocess(), which adds the uint8 -> float fill), alternating rounds, wall and process CPU;
//  2. ONNX Runtime alone on that tensor at 1 and 2 threads with its profiler on: kernel ms per image by
//     operator type (what scales with threads and what does not);
//  3. `pinhole serve` (a child process) answering N sequential POSTs over one keep-alive connection: the
//     client's latency, the answers' timing_ms spans, the server's own request duration (onRequest to
//     onResponse, from /metrics) and the server's CPU per request by thread (main, libvips, the rest).
// On a machine shared with other work, the CPU figures are the ones to read; wall time follows the cores left.
//
//   npm run build && node --import tsx bench/one-request.ts [--model DIR] [--image FILE] [--requests 200] [--rounds 3]
//     [--variant "sharp=PINHOLE_JPEG=sharp" --variant turbo=]   (part 3: servers with these environments, alternating)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { readManifest } from '../src/runtime/folder.ts';
import { withTurboRgb } from '../src/runtime/jpeg-turbo.ts';
import { headerSize, preprocess } from '../src/runtime/preprocess.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { int8BenchModelDir } from './darknet-model.ts';
import { loadAverage as load, startServerChild } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    requests: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true },
  },
});
/** LABEL=NAME=VALUE ...: a server environment for part 3 (e.g. "sharp=PINHOLE_JPEG=sharp"); one plain server by default. */
const variants = (o.variant ?? ['=']).map((v) => {
  const label = v.slice(0, v.indexOf('='));
  const env = Object.fromEntries(v.slice(v.indexOf('=') + 1).split(/\s+/).filter(Boolean).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { label, env };
});
const rounds = Number(o.rounds), requests = Number(o.requests);
const dir = await int8BenchModelDir(o.model, 'bench/one-request');
const manifest = await readManifest(dir);
const bytes = readFileSync(o.image);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x: number) => x.toFixed(2);
console.log(`one request: ${basename(dir)} (${manifest.precision ?? 'float32'}, ${manifest.input.width}x${manifest.input.height}), `
  + `${o.image} (${bytes.length} bytes); load ${load()}`);

// 1. preprocessing, piece by piece
const tensor = new Float32Array(manifest.input.channels * manifest.input.width * manifest.input.height);
const pre = () => preprocess(bytes, manifest.input, manifest.preprocess, { alloc: () => tensor });
const first = await pre();
const { newW, newH } = first.geometry;
const pieces: Record<string, () => Promise<unknown> | unknown> = {
  'JPEG header in JS (headerSize)': () => headerSize(bytes),
  "sharp's header read (metadata)": () => sharp(bytes, { failOn: 'warning', limitInputPixels: false }).metadata(),
  'sharp decode + resize': () => sharp(bytes, { failOn: 'warning', autoOrient: true, ignoreIcc: true })
    .resize(newW, newH, { fit: 'fill', kernel: 'cubic' }).removeAlpha().toColourspace('srgb').raw().toBuffer(),
  'sharp decode, full size': () => sharp(bytes, { failOn: 'warning', autoOrient: true, ignoreIcc: true }).removeAlpha().toColourspace('srgb').raw().toBuffer(),
  'libjpeg-turbo decode, full size': () => withTurboRgb(bytes, first.width, first.height, 40_000_000, (px) => px[0]),
  'preprocess() whole': pre,
};
const tally = new Map<string, { wall: number[]; cpu: number; n: number }>();
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(pieces)) {
    for (let i = 0; i < 3; i++) await fn();
    const t = tally.get(name) ?? { wall: [], cpu: 0, n: 0 };
    tally.set(name, t);
    const c0 = process.cpuUsage();
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      await fn();
      t.wall.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    t.cpu += (c.user + c.system) / 1000;
    t.n += 40;
  }
}
console.log(`\n1. preprocessing in this process (${rounds} rounds x 40, alternating; letterbox ${newW}x${newH}):`);
for (const [name, t] of tally) console.log(`  ${name.padEnd(32)} wall p50 ${ms(med(t.wall))} ms, CPU ${ms(t.cpu / t.n)} ms`);

// 2. ONNX Runtime alone, profiled
const scratch = mkdtempSync(join(tmpdir(), 'pinhole-one-request-'));
console.log('\n2. ONNX Runtime alone on that tensor (the runtime\'s session options), kernel ms per image by operator:');
for (const threads of [1, 2]) {
  const opts = sessionOptions('cpu', { intraOpThreads: threads, spinning: false, quantized: manifest.precision === 'int8' });
  const s = await ort.InferenceSession.create(join(dir, 'model.onnx'), { ...opts, enableProfiling: true, profileFilePrefix: join(scratch, `t${threads}`) });
  const { channels, height, width } = manifest.input;
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', first.data, [1, channels, height, width]) };
  for (let i = 0; i < 5; i++) await s.run(feeds);
  const n = 30, wall: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    wall.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  s.endProfiling();
  await s.release();
  const file = readdirSync(scratch).find((f) => f.startsWith(`t${threads}`));
  const events = JSON.parse(readFileSync(join(scratch, file!), 'utf8')) as Array<{ cat?: string; name: string; dur: number; args?: { op_name?: string } }>;
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length;
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) byOp.set(e.args?.op_name ?? '?', (byOp.get(e.args?.op_name ?? '?') ?? 0) + e.dur / 1000 / runs);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  console.log(`  ${threads} thread(s): run wall p50 ${ms(med(wall))} ms, process CPU ${ms((c.user + c.system) / 1000 / n)} ms, kernels ${ms(total)} ms: `
    + [...byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${ms(v)}`).join(', '));
}
rmSync(scratch, { recursive: true, force: true });

// 3. the server, one connection
/** CPU ms of a process's threads, grouped: the main thread, libvips' workers, everything else. */
function cpuByThread(pid: number): { main: number; vips: number; other: number } {
  const out = { main: 0, vips: 0, other: 0 };
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
    if (t === String(pid)) out.main += cpu;
    else if (name.startsWith('libvips')) out.vips += cpu;
    else out.other += cpu;
  }
  return out;
}
async function requestSeconds(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (k: string) => Number(new RegExp(`pinhole_request_duration_seconds_${k}\\{[^}]*route="/v1/detect"[^}]*\\} (\\S+)`).exec(text)?.[1] ?? NaN);
  return { sum: get('sum'), count: get('count') };
}
console.log(`\n3. pinhole serve, ${requests} sequential POSTs over one keep-alive connection, ${rounds} runs (a server each):`);
console.log('  client p50 / mean | spans p50: decode (header, decode, resize, fill), queue, infer, post | server mean (onRequest to onResponse) | server CPU per request: all (main, libvips, workers + ORT + libuv)');
for (let r = 0; r < rounds * variants.length; r++) {
  const v = variants[r % variants.length];
  const server = await startServerChild({ name: basename(dir), dir, kind: manifest.kind }, ['--log-level', 'info'], undefined, undefined, { env: v.env });
  try {
    const url = `${server.url}/v1/detect`;
    const post = async () => (await fetch(url, { method: 'POST', body: bytes, headers: { 'content-type': 'image/jpeg' } })).json() as Promise<{ timing_ms: Record<string, number> }>;
    for (let i = 0; i < 20; i++) await post();
    const m0 = await requestSeconds(server.url);
    const c0 = cpuByThread(server.child.pid!);
    const lat: number[] = [];
    const spans: Record<string, number[]> = { decode: [], queue: [], infer: [], post: [] };
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const a = await post();
      lat.push(performance.now() - t0);
      for (const k of Object.keys(spans)) spans[k].push(a.timing_ms[k]);
    }
    const c1 = cpuByThread(server.child.pid!);
    const m1 = await requestSeconds(server.url);
    const per = (k: 'main' | 'vips' | 'other') => (c1[k] - c0[k]) / requests;
    console.log(`  run ${Math.floor(r / variants.length) + 1}${v.label ? ` ${v.label}` : ''}: ${ms(med(lat))} / ${ms(lat.reduce((a, b) => a + b, 0) / requests)} ms | ${Object.entries(spans).map(([k, v]) => `${k} ${ms(med(v))}`).join(', ')} `
      + `| ${ms(((m1.sum - m0.sum) / (m1.count - m0.count)) * 1000)} ms | ${ms(per('main') + per('vips') + per('other'))} ms (${ms(per('main'))}, ${ms(per('vips'))}, ${ms(per('other'))}); load ${load()}`);
  } finally {
    await server.stop();
  }
}
