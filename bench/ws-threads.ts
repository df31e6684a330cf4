// Where a stream server's CPU goes, thread by thread, with V8's garbage collections counted: `pinhole serve`
// under `node --trace-gc` (plus any --node-flag), N /v1/stream connections sending a 640x480 JPEG at 30 fps
// each for the duration, then per processed frame: the CPU of each thread group of the server (from
// /proc/PID/task/*/stat: the main thread, the inference workers, libuv's pool, libvips' threads, V8's
// platform threads), and the scavenges and mark-compacts the log shows. Runs the model folders given
// alternately: an A/B of model.json settings on the same build (bench/ws-ab.ts, the fuller tool, compares
// builds, Node flags and serve flags on one model folder).
//
//   npm run build && node --import tsx bench/ws-threads.ts --model yolov2-synth-int8 --models models,/tmp/cubic [--streams 8] [--seconds 8] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import { loadAverage } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'yolov2-synth-int8' },
    models: { type: 'string', default: 'models' },
    streams: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const ROOT = resolve(import.meta.dirname, '..');
const frame = await sharp('/usr/share/darknet/data/dog.jpg').resize(640, 480, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
const streams = Number(o.streams), seconds = Number(o.seconds);

/** CPU seconds by thread group of a process, from /proc/PID/task/TID/stat. */
function threadCpu(pid: number): Map<string, number> {
  const by = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const group = Number(tid) === pid ? 'main' : /^V8 /.test(name) ? 'V8 platform' : /libuv/.test(name) ? 'libuv pool'
        : /vips|sharp/i.test(name) ? 'libvips' : /^node$|Worker|worker/.test(name) ? 'workers (JS + ORT)' : name;
      by.set(group, (by.get(group) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch { /* a thread that ended */ }
  }
  return by;
}

async function run(modelsDir: string): Promise<string> {
  const only = mkdtempSync(join(tmpdir(), 'pinhole-ws-threads-'));
  symlinkSync(resolve(modelsDir, o.model), join(only, o.model), 'dir');
  const child = spawn(process.execPath, ['--trace-gc', ...o['node-flag'], join(ROOT, 'bin/pinhole.js'), 'serve', '--models', only, '--host', '127.0.0.1', '--port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (c: Buffer) => { log += c; });
  child.stderr.on('data', (c: Buffer) => { log += c; });
  let url: string | undefined;
  for (const t0 = Date.now(); !url && Date.now() - t0 < 120_000;) {
    url = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(log)?.[1];
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!url) throw new Error(`server did not start: ${log.slice(-1000)}`);
  const wsUrl = `${url.replace('http', 'ws')}/v1/stream?model=${o.model}`;
  const sockets = await Promise.all(Array.from({ length: streams }, () => new Promise<WebSocket>((res, rej) => {
    const ws = new WebSocket(wsUrl);
    ws.once('open', () => res(ws));
    ws.once('error', rej);
  })));
  // a second of warm-up, then the measured window
  let results = 0;
  for (const ws of sockets) ws.on('message', () => { results++; });
  const send = setInterval(() => { for (const ws of sockets) ws.send(frame); }, 1000 / 30);
  await new Promise((r) => setTimeout(r, 1000));
  const gcFrom = log.length, cpu0 = threadCpu(child.pid!), r0 = results;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu1 = threadCpu(child.pid!), processed = results - r0, gcLog = log.slice(gcFrom);
  clearInterval(send);
  for (const ws of sockets) ws.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(only, { recursive: true, force: true });
  const per = (g: string) => (((cpu1.get(g) ?? 0) - (cpu0.get(g) ?? 0)) * 1000) / processed;
  const groups = [...new Set([...cpu1.keys()])].sort();
  const all = groups.reduce((s, g) => s + per(g), 0);
  return `${modelsDir}: ${(processed / seconds).toFixed(1)} results/s; server CPU ${all.toFixed(2)} ms per frame: `
    + groups.map((g) => `${g} ${per(g).toFixed(2)}`).join(', ')
    + `; mark-compacts ${(gcLog.match(/Mark-Compact/g) ?? []).length}, scavenges ${(gcLog.match(/Scavenge/g) ?? []).length}; load ${loadAverage()}`
    + reasons(gcLog);
}

/** The mark-compacts' reasons as --trace-gc words them, counted. */
function reasons(gcLog: string): string {
  const by = new Map<string, number>();
  for (const line of gcLog.split('\n')) {
    if (!/Mark-Compact/.test(line)) continue;
    const why = line.replace(/.*\)\s*/, '').replace(/\s+/g, ' ').trim() || '?';
    by.set(why, (by.get(why) ?? 0) + 1);
  }
  return [...by].map(([w, k]) => `\n    ${k} x ${w}`).join('');
}

const dirs = o.models.split(',');
console.log(`ws-threads: ${o.model}, ${streams} streams x 30 fps of a 640x480 JPEG (${frame.length} bytes), ${seconds} s a run, node flags [${o['node-flag'].join(' ')}]`);
for (let i = 0; i < Number(o.runs); i++) for (const d of i % 2 ? [...dirs].reverse() : dirs) console.log(await run(d));
