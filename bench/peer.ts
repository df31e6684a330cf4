// Peer bench: Pinhole (float32 and int8) against a naive Fastify + onnxruntime-node + sharp server
// (bench/peers/naive-server.ts) and a Flask + gunicorn + OpenCV DNN server (bench/peers/flask_server.py),
// all on the same darknet yolov2-tiny-voc cfg + seeded random weights (bench/darknet-model.ts), the same
// image, 1/4/16 connections with autocannon. Rounds interleave the contenders: each round starts every
// server afresh (cold start: spawn to the first 200 answer), loads it at each concurrency, samples the
// resident memory of its whole process tree throughout (peak), and stops it.
// Installs nothing: a contender whose tools are missing is skipped with what to install.
//
//   node --import tsx bench/peer.ts [--seconds 10] [--rounds 3] [--connections 1,4,16] [--only pinhole,pinhole-int8,naive,flask]
//     [--gunicorn-workers N] [--image /usr/share/darknet/data/dog.jpg]
//     [--port-base 18400] [--variant NAME=SERVE_FLAGS ...]   (more Pinhole contenders, fp32: e.g. --variant "1x2=--workers 1 --threads 2")
//     [--int8-variant NAME=SERVE_FLAGS ...]   (the same on the int8 folder, compared with Flask)
//     (NAME=VALUE words among SERVE_FLAGS set the server's environment: --int8-variant "sharp=PINHOLE_JPEG=sharp")
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { darknetBenchModel, darknetModelMissing } from './darknet-model.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: o } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '1,4,16' },
    only: { type: 'string', default: 'pinhole,pinhole-int8,naive,flask' },
    'gunicorn-workers': { type: 'string', default: String(availableParallelism()) },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    python: { type: 'string', default: '/usr/bin/python3' },
    variant: { type: 'string', multiple: true, default: [] },
    'int8-variant': { type: 'string', multiple: true, default: [] },
    // two runs at once on one machine (two engineers) would answer each other's requests on the same ports
    'port-base': { type: 'string', default: '18400' },
  },
});
const seconds = Number(o.seconds), rounds = Number(o.rounds);
const conns = o.connections.split(',').map(Number);
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');

interface Contender { name: string; start: (port: number) => ChildProcess }
const missing = darknetModelMissing();
if (missing) {
  console.error(`bench/peer: cannot build the shared model: missing ${missing}`);
  process.exit(2);
}
const dn = await darknetBenchModel();
const scratch = mkdtempSync(path.join(tmpdir(), 'pinhole-peer-'));
/** A models folder holding only `name` (Pinhole serves every folder it is given). */
function only(name: string): string {
  const d = path.join(scratch, name);
  if (!existsSync(d)) {
    mkdirSync(d);
    symlinkSync(path.join(dn.modelsDir, name), path.join(d, name));
  }
  return d;
}
const node = (args: string[], port: number, env: Record<string, string> = {}) => spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
const all: Contender[] = [
  { name: 'pinhole', start: (p) => node(['bin/pinhole.js', 'serve', '--models', only(dn.name), '--port', String(p), '--log-level', 'warn'], p) },
  { name: 'pinhole-int8', start: (p) => node(['bin/pinhole.js', 'serve', '--models', only(dn.int8Name), '--port', String(p), '--log-level', 'warn'], p) },
  { name: 'naive', start: (p) => node(['--import', 'tsx', 'bench/peers/naive-server.ts', path.join(dn.modelsDir, dn.name)], p) },
  {
    name: 'flask',
    // gthread workers (one thread each) keep connections alive as autocannon's do; gunicorn's default sync
    // workers close every connection after its answer, which autocannon met with resets and reconnects
    // (at 1 connection here: 6 req/s, p50 773 ms and errors, against 13 req/s, p50 76 ms, no errors)
    start: (p) => spawn('gunicorn', ['-w', o['gunicorn-workers'], '-k', 'gthread', '--threads', '1', '--keep-alive', '75',
      '-b', `127.0.0.1:${p}`, '--chdir', path.join(ROOT, 'bench/peers'), '--log-level', 'warning', 'flask_server:app'], {
      env: { ...process.env, PEER_CFG: dn.cfg, PEER_WEIGHTS: dn.weights, PEER_NAMES: dn.names }, stdio: ['ignore', 'ignore', 'pipe'],
    }),
  },
];
function flaskMissing(): string | undefined {
  const need: string[] = [];
  const py = spawnSync(o.python, ['-c', 'import flask, cv2'], { encoding: 'utf8' });
  if (py.status !== 0) need.push('python3-flask python3-opencv');
  if (spawnSync('gunicorn', ['--version']).status !== 0) need.push('gunicorn');
  return need.length ? `apt-get install ${need.join(' ')}` : undefined;
}
for (const [list, folder, prefix] of [[o.variant, dn.name, 'pinhole:'], [o['int8-variant'], dn.int8Name, 'pinhole-int8:']] as const) {
  for (const v of list) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new Error(`--variant / --int8-variant NAME=SERVE_FLAGS, got "${v}"`);
    const words = v.slice(eq + 1).split(/\s+/).filter(Boolean);
    const isEnv = (w: string) => /^[A-Z_][A-Z0-9_]*=/.test(w);
    const flags = words.filter((w) => !isEnv(w));
    const env = Object.fromEntries(words.filter(isEnv).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    all.push({ name: `${prefix}${v.slice(0, eq)}`, start: (p) => node(['bin/pinhole.js', 'serve', '--models', only(folder), '--port', String(p), '--log-level', 'warn', ...flags], p, env) });
  }
}
const wanted = new Set([...o.only.split(','), ...all.filter((c) => /^pinhole(-int8)?:/.test(c.name)).map((c) => c.name)]);
const contenders = all.filter((c) => wanted.has(c.name)).filter((c) => {
  const why = c.name === 'flask' ? flaskMissing() : undefined;
  if (why) console.log(`flask skipped: missing tools (${why})`);
  return !why;
});

/** Resident memory of a process and all its descendants, in MB (Linux /proc). */
function treeRssMb(pid: number): number {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))![1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch { /* exited meanwhile */ }
  }
  let kb = 0;
  const walk = (p: number) => {
    try { kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0); } catch { /* gone */ }
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return kb / 1024;
}

const image = readFileSync(o.image);
async function firstAnswer(url: string, child: ChildProcess, t0: number): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
      if (r.ok) return performance.now() - t0;
    } catch { /* not listening yet */ }
    if (performance.now() - t0 > 120_000) throw new Error('no answer within 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Sample { rps: number; p50: number; p99: number; errors: number }
interface Tally { cold: number[]; rss: number[]; by: Map<number, Sample[]> }
const res = new Map<string, Tally>();
let port = Number(o['port-base']);
console.log(`peer bench: darknet yolov2-tiny-voc@416, seeded random weights (${dn.weights}), image ${o.image} (${image.length} bytes); `
  + `${rounds} rounds x ${conns.join('/')} connections x ${seconds} s; ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores; load ${load()}`);
try {
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const url = `http://127.0.0.1:${++port}/v1/detect`;
      const t0 = performance.now();
      const child = c.start(port);
      let err = '';
      child.stderr?.on('data', (b) => { err = (err + String(b)).slice(-2000); });
      let peak = 0;
      const timer = setInterval(() => { peak = Math.max(peak, treeRssMb(child.pid!)); }, 250);
      const e: Tally = res.get(c.name) ?? { cold: [], rss: [], by: new Map() };
      res.set(c.name, e);
      try {
        e.cold.push(await firstAnswer(url, child, t0));
        for (const n of conns) {
          const a = await autocannon({ url, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' }, connections: n, duration: seconds, timeout: 30 });
          const s = { rps: a['2xx'] / a.duration, p50: a.latency.p50, p99: a.latency.p99, errors: a.non2xx + a.errors + a.timeouts };
          e.by.set(n, [...(e.by.get(n) ?? []), s]);
          console.log(`round ${r + 1} ${c.name.padEnd(16)} ${String(n).padStart(2)} conn: ${s.rps.toFixed(1).padStart(6)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms${s.errors ? `, ${s.errors} errors` : ''}; load ${load()}`);
        }
        e.rss.push(peak);
        console.log(`round ${r + 1} ${c.name.padEnd(16)} cold start ${e.cold.at(-1)!.toFixed(0)} ms, peak RSS ${peak.toFixed(0)} MB`);
      } catch (x) {
        console.log(`round ${r + 1} ${c.name}: failed: ${(x as Error).message} ${err.trim().split('\n').slice(-3).join(' | ')}`);
      } finally {
        clearInterval(timer);
        child.kill('SIGTERM');
        await new Promise((ok) => { if (child.exitCode !== null) ok(null); else child.once('exit', ok); setTimeout(ok, 10_000); });
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
console.log(`\nmeans over ${rounds} rounds (load now ${load()}):`);
console.log(`${'server'.padEnd(16)} ${conns.map((n) => `${n} conn: req/s  p50  p99`.padStart(28)).join(' ')}   cold ms  peak RSS MB`);
for (const [name, e] of res) {
  const cells = conns.map((n) => {
    const s = e.by.get(n) ?? [];
    return `${mean(s.map((x) => x.rps)).toFixed(1).padStart(14)} ${mean(s.map((x) => x.p50)).toFixed(0).padStart(5)} ${mean(s.map((x) => x.p99)).toFixed(0).padStart(5)}`;
  });
  console.log(`${name.padEnd(16)} ${cells.map((x) => x.padStart(28)).join(' ')}   ${median(e.cold).toFixed(0).padStart(7)}  ${Math.max(...e.rss, 0).toFixed(0).padStart(11)}`);
}
const ratio = (a: string, b: string, what: 'rps' | 'p50') => conns.map((n) => {
  const x = mean(res.get(a)?.by.get(n)?.map((s) => s[what]) ?? []), y = mean(res.get(b)?.by.get(n)?.map((s) => s[what]) ?? []);
  return `${n} conn ${(x / y).toFixed(2)}x`;
}).join(', ');
const variants = [...res.keys()].filter((n) => /^pinhole(-int8)?:/.test(n))
  .map((n) => (n.startsWith('pinhole:') ? [n, 'naive', '>= 1.3x'] as const : [n, 'flask', '>= 3.5x'] as const));
// int8 against every float32 Pinhole in the run (e.g. a --variant without the Winograd pass): issue 20 asks >= 1.8x
const int8VsFloat = [...res.keys()].filter((n) => /^pinhole(:|$)/.test(n)).map((n) => ['pinhole-int8', n, '>= 1.8x'] as const);
for (const [a, b, target] of [['pinhole', 'naive', '>= 1.3x'], ['pinhole', 'flask', ''], ['pinhole-int8', 'flask', '>= 3.5x'], ...int8VsFloat, ...variants] as const) {
  if (res.has(a) && res.has(b)) console.log(`${a} / ${b} throughput: ${ratio(a, b, 'rps')}${target ? ` (target ${target})` : ''}; p50: ${ratio(a, b, 'p50')}`);
}
if (existsSync(scratch)) rmSync(scratch, { recursive: true, force: true });
