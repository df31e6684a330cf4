// A/B of the server's CPU per processed frame under WebSocket streams: two (or more) builds of Pinhole, or one
// build with different Node flags, served in turn from child processes and loaded by the same 8-stream camera
// client, alternating round by round so that the other work on a shared machine falls on every variant alike.
// Per run: frames/s processed, the server's CPU per processed frame (all threads, and by kind of thread, from
// /proc), kernel time and page faults per frame, the inference workers' run / wait-for-a-core / sleep shares,
// RSS, V8's collections per isolate (`--trace-gc`: scavenges and mark-compacts), end-to-end p50 / p99, and the
// client's own CPU.
//
//   npm run build   (in each checkout compared)
//   node --import tsx bench/ws-ab.ts --variant base=/tmp/main-checkout --variant new=. [--model yolov2-synth-int8]
//     [--image-size 640x480] [--streams 8] [--duration 8] [--rounds 3] [--node-flags "--max-semi-space-size=32"]
//
// A variant is LABEL=ROOT (a checkout with bin/pinhole.js and a current dist/), LABEL=ROOT|NODE FLAGS, e.g.
// "young=.|--max-semi-space-size=32" (NAME=VALUE words there set the server's environment), or
// LABEL=ROOT|NODE FLAGS|SERVE FLAGS, e.g. "four=.||--stream-in-flight 4"; --node-flags go to every variant.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cameraFrame, percentile, runStream } from './ws-client.ts';
import { collections, cpuSeconds, loadAverage as load, SERVING_OPTIONS, servingSetup, startServerChild, threadsOf } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    ...SERVING_OPTIONS,
    duration: { type: 'string', default: '8' },
    fps: { type: 'string', default: '30' },
    streams: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'image-size': { type: 'string', default: '640x480' },
    variant: { type: 'string', multiple: true },
    'node-flags': { type: 'string', default: '' },
    'stream-in-flight': { type: 'string' },
  },
});

interface Variant { label: string; root: string; nodeArgs: string[]; env: Record<string, string>; serveArgs: string[] }

const split = (s: string) => s.split(/\s+/).filter(Boolean);
const variants: Variant[] = (o.variant ?? ['this=.']).map((v) => {
  const m = /^([^=]+)=([^|]*)(?:\|([^|]*))?(?:\|(.*))?$/.exec(v);
  if (!m) {
    console.error(`--variant takes LABEL=ROOT or LABEL=ROOT|NODE FLAGS; got "${v}"`);
    process.exit(2);
  }
  const words = [...split(o['node-flags']), ...split(m[3] ?? '')];
  // NAME=VALUE words are the server's environment, the others Node's flags
  const env = Object.fromEntries(words.filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { label: m[1], root: resolve(m[2] || '.'), nodeArgs: words.filter((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w)), env, serveArgs: split(m[4] ?? '') };
});
const { model, image: original, flags } = servingSetup(o);
if (o['stream-in-flight'] !== undefined) flags.push('--stream-in-flight', o['stream-in-flight']);
const image = await cameraFrame(original, o['image-size']);
const duration = Number(o.duration), fps = Number(o.fps), streams = Number(o.streams), rounds = Number(o.rounds);

interface ThreadCpu { seconds: number; comm: string; faults: number; system: number; runNs: number; waitNs: number }

/** CPU seconds and name of each thread of a process, by thread id. */
function threadCpu(pid: number): Map<number, ThreadCpu> {
  const out = new Map<number, ThreadCpu>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // schedstat: ns on a CPU, ns runnable but waiting for one, timeslices
      const [runNs, waitNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(Number(tid), {
        runNs, waitNs, seconds: (Number(f[11]) + Number(f[12])) / 100, system: Number(f[12]) / 100, faults: Number(f[7]),
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      });
    } catch { /* the thread ended */ }
  }
  return out;
}

/**
 * The server's CPU in a window by kind of thread. Node names none of its threads: the inference workers are
 * the two busiest (ONNX Runtime runs in them, 1 thread each by default), libvips names its own, and the rest
 * is libuv's pool (sharp's calls run there) and V8's platform threads (concurrent marking and sweeping,
 * the optimizing compiler), which only `perf` tells apart.
 */
function byKind(pid: number, t0: Map<number, ThreadCpu>, t1: Map<number, ThreadCpu>, workers: number): Record<string, number> {
  const used = [...t1].map(([tid, t]) => ({ tid, comm: t.comm, s: t.seconds - (t0.get(tid)?.seconds ?? 0) }));
  lastWorkers = used.filter((u) => u.tid !== pid && !u.comm.startsWith('libvips')).sort((a, b) => b.s - a.s).slice(0, workers).map((u) => u.tid);
  const out: Record<string, number> = { main: 0, inference: 0, libvips: 0, 'libuv+v8': 0 };
  const rest = [];
  for (const u of used) {
    if (u.tid === pid) out.main += u.s;
    else if (u.comm.startsWith('libvips')) out.libvips += u.s;
    else rest.push(u);
  }
  rest.sort((a, b) => b.s - a.s);
  rest.forEach((u, i) => { out[i < workers ? 'inference' : 'libuv+v8'] += u.s; });
  return out;
}

let lastWorkers: number[] = [];

/**
 * The inference workers over a window of `ms`: the share of it they ran, waited runnable for a core (the
 * machine's other work), and slept (nothing to run: the frames did not come fast enough).
 */
function workerTime(t0: Map<number, ThreadCpu>, t1: Map<number, ThreadCpu>, ms: number): string {
  const pct = (ns: number) => ((100 * ns) / 1e6 / ms / Math.max(1, lastWorkers.length)).toFixed(0);
  const d = (k: 'runNs' | 'waitNs') => lastWorkers.reduce((a, tid) => a + (t1.get(tid)?.[k] ?? 0) - (t0.get(tid)?.[k] ?? 0), 0);
  const run = d('runNs'), wait = d('waitNs');
  return `inference workers ran ${pct(run)}%, waited for a core ${pct(wait)}%, slept ${pct(ms * 1e6 * lastWorkers.length - run - wait)}% of the run`;
}

console.log(`ws A/B: model ${model.name}, ${o['image-size']} JPEG (${image.length} bytes), ${streams} streams x ${fps} fps, ${duration} s per run, `
  + `${rounds} rounds of ${variants.map((v) => `${v.label} (${v.root}${[...v.nodeArgs, ...Object.entries(v.env).map(([k, x]) => `${k}=${x}`), ...v.serveArgs].map((w) => ` ${w}`).join('')})`).join(', ')}; load ${load()}`);
const totals = new Map<string, { frames: number; cpu: number; main: number; seconds: number }>();
for (let r = 1; r <= rounds; r++) {
  for (const v of variants) {
    const server = await startServerChild(model, [...flags, ...v.serveArgs], 180_000, Infinity, { root: v.root, nodeArgs: ['--trace-gc', ...v.nodeArgs], env: v.env });
    try {
      const pid = server.child.pid!;
      const url = `${server.url.replace('http', 'ws')}/v1/stream?model=${encodeURIComponent(model.name)}`;
      await Promise.all(Array.from({ length: streams }, () => runStream(url, 2, fps, image)));
      const logAt = server.log().length;
      const t0 = threadCpu(pid), c0 = cpuSeconds(pid), k0 = process.cpuUsage(), w0 = performance.now(), l0 = load();
      const all = await Promise.all(Array.from({ length: streams }, () => runStream(url, duration, fps, image)));
      const seconds = (performance.now() - w0) / 1000;
      const cpu = cpuSeconds(pid) - c0, t1 = threadCpu(pid), k = process.cpuUsage(k0);
      const frames = all.reduce((a, s) => a + s.processed, 0);
      const ms = (s: number) => ((1000 * s) / Math.max(1, frames)).toFixed(2);
      const workers = Number(/inference: (\d+) worker/.exec(server.log())?.[1] ?? 1);
      const kinds = byKind(pid, t0, t1, workers);
      const main = kinds.main;
      const delta = (k: 'faults' | 'system') => [...t1].reduce((a, [tid, t]) => a + t[k] - (t0.get(tid)?.[k] ?? 0), 0);
      const faults = (delta('faults') / Math.max(1, frames)).toFixed(0);
      const sched = workerTime(t0, t1, seconds * 1000);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k: string) => Math.round(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024);
      const rss = `RSS ${kb('VmRSS')} MB (peak ${kb('VmHWM')})`;
      const others = Object.entries(kinds).map(([k, s]) => `${k} ${ms(s)}`).join(', ');
      const lat = all.flatMap((s) => s.latencies).sort((a, b) => a - b);
      const per = all.map((s) => s.processed);
      const mean = frames / streams;
      const sum = totals.get(v.label) ?? { frames: 0, cpu: 0, main: 0, seconds: 0 };
      totals.set(v.label, { frames: sum.frames + frames, cpu: sum.cpu + cpu, main: sum.main + main, seconds: sum.seconds + seconds });
      console.log(`round ${r} ${v.label}: ${(frames / seconds).toFixed(1)} frames/s (streams ${((100 * (Math.min(...per) - mean)) / mean).toFixed(0)}%/+${((100 * (Math.max(...per) - mean)) / mean).toFixed(0)}%), `
        + `p50 ${percentile(lat, 50).toFixed(0)} / p99 ${percentile(lat, 99).toFixed(0)} ms; server ${ms(cpu)} ms CPU per frame (${(cpu / seconds).toFixed(2)} cores), `
        + `by thread: ${others}; kernel ${ms(delta('system'))}, ${faults} page faults per frame; ${sched}; ${rss}; ${collections(server.log().slice(logAt))}; client ${((k.user + k.system) / 1e6 / seconds).toFixed(2)} cores; `
        + `${threadsOf(server.log())}; load ${l0}`);
    } finally {
      await server.stop();
    }
  }
}
for (const [label, t] of totals) {
  console.log(`${label}: ${(t.frames / t.seconds).toFixed(1)} frames/s, ${((1000 * t.cpu) / t.frames).toFixed(2)} ms server CPU per frame `
    + `(main thread ${((1000 * t.main) / t.frames).toFixed(2)}) over ${rounds} rounds`);
}
console.log(`load average now ${load()}`);
