// The compiled server with the Winograd pass (its default) against `--no-winograd` and against the peer bench's
// naive Fastify + onnxruntime-node + sharp server (bench/peers/naive-server.ts, same model.onnx), on darknet's
// yolov2-tiny-voc (bench/darknet-model.ts), alternating over rounds: server CPU per request (utime + stime of
// the server process, all its threads, from /proc: steadier than wall-clock on a shared machine), requests/s
// and client p50, at one connection (sequential POSTs of dog.jpg) and at four.
//
//   npm run build && node --import tsx bench/winograd-server.ts [--rounds 3] [--requests 40] [--port-base 18900]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { darknetBenchModel } from './darknet-model.ts';

const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '40' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    'port-base': { type: 'string', default: '18900' },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const rounds = Number(o.rounds);
const n = Number(o.requests);
const image = readFileSync(o.image);
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
const TICK_MS = 10; // USER_HZ is 100 on Linux

const dm = await darknetBenchModel();
const scratch = mkdtempSync(path.join(tmpdir(), 'pinhole-wino-srv-'));
mkdirSync(path.join(scratch, 'm'));
symlinkSync(path.join(dm.modelsDir, dm.name), path.join(scratch, 'm', dm.name));

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

async function post(url: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return performance.now() - t0;
}

async function ready(url: string, child: ChildProcess): Promise<void> {
  for (const t0 = performance.now(); performance.now() - t0 < 120_000;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await post(url);
      return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server not ready in 120 s');
}

interface Line { cpu1: number; p50: number; cpu4: number; rps4: number }
async function measure(args: string[], port: number): Promise<Line> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const url = `http://127.0.0.1:${port}/v1/detect`;
    await ready(url, child);
    for (let i = 0; i < 5; i++) await post(url);
    let c0 = cpuMs(child.pid!);
    const ms: number[] = [];
    for (let i = 0; i < n; i++) ms.push(await post(url));
    const cpu1 = (cpuMs(child.pid!) - c0) / n;
    ms.sort((a, b) => a - b);
    c0 = cpuMs(child.pid!);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next++ < n) await post(url);
    }));
    return { cpu1, p50: ms[ms.length >> 1], cpu4: (cpuMs(child.pid!) - c0) / n, rps4: n / ((performance.now() - t0) / 1000) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const serve = (port: number, ...flags: string[]) => ['bin/pinhole.js', 'serve', '--models', path.join(scratch, 'm'), '--port', String(port), '--log-level', 'warn', ...flags];
const variants = [
  { name: 'winograd (default)', args: (p: number) => serve(p) },
  { name: '--no-winograd', args: (p: number) => serve(p, '--no-winograd') },
  { name: 'naive server', args: () => ['--import', 'tsx', 'bench/peers/naive-server.ts', path.join(dm.modelsDir, dm.name)] },
];
console.log(`server CPU per request, darknet yolov2-tiny-voc@416 (random weights), ${o.image}, ${n} requests per line; load ${load()}`);
const all = new Map<string, Line[]>();
let port = Number(o['port-base']);
try {
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const x = await measure(v.args(++port), port);
      all.set(v.name, [...(all.get(v.name) ?? []), x]);
      console.log(`round ${r + 1} ${v.name.padEnd(18)} 1 conn: ${x.cpu1.toFixed(1)} ms CPU/request, p50 ${x.p50.toFixed(1)} ms | 4 conn: ${x.cpu4.toFixed(1)} ms CPU/request, ${x.rps4.toFixed(1)} req/s; load ${load()}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const row = (name: string) => {
  const l = all.get(name)!;
  return { cpu1: med(l.map((x) => x.cpu1)), p50: med(l.map((x) => x.p50)), cpu4: med(l.map((x) => x.cpu4)), rps4: med(l.map((x) => x.rps4)) };
};
const [a, ...others] = variants.map((v) => row(v.name));
variants.forEach((v, i) => {
  const x = i === 0 ? a : others[i - 1];
  console.log(`median ${v.name.padEnd(18)} 1 conn ${x.cpu1.toFixed(1)} ms CPU/request, p50 ${x.p50.toFixed(1)} ms | 4 conn ${x.cpu4.toFixed(1)} ms CPU/request, ${x.rps4.toFixed(1)} req/s`);
});
others.forEach((b, i) => {
  console.log(`${variants[i + 1].name} / winograd: CPU per request ${(b.cpu1 / a.cpu1).toFixed(2)}x (1 conn), ${(b.cpu4 / a.cpu4).toFixed(2)}x (4 conn); `
    + `p50 ${(b.p50 / a.p50).toFixed(2)}x; winograd's req/s at 4 conn ${(a.rps4 / b.rps4).toFixed(2)}x`);
});
console.log(`load ${load()}`);
