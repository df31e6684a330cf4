import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import autocannon from 'autocannon';
const [dir, ...flags] = process.argv.slice(2);
function treeRssMb(pid: number): number {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))![1]); kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]); } catch {}
  }
  let kb = 0;
  const walk = (p: number) => { try { kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0); } catch {} for (const k of kids.get(p) ?? []) walk(k); };
  walk(pid); return kb / 1024;
}
const port = 18900 + Math.floor(Math.random() * 50);
const image = readFileSync('/usr/share/darknet/data/dog.jpg');
const t0 = performance.now();
const child = spawn(process.execPath, ['bin/pinhole.js', 'serve', '--models', dir, '--port', String(port), '--log-level', 'info', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
const lines: string[] = [];
child.stdout.on('data', (b) => { for (const l of String(b).split('\n')) if (l) lines.push(`${(performance.now() - t0).toFixed(0)} ${l.slice(0, 200)}`); });
child.stderr.on('data', (b) => lines.push(String(b)));
let peak = 0;
const timer = setInterval(() => { peak = Math.max(peak, treeRssMb(child.pid!)); }, 100);
const url = `http://127.0.0.1:${port}/v1/detect`;
let cold = 0;
for (;;) { try { const r = await fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } }); if (r.ok) { cold = performance.now() - t0; break; } } catch {} await new Promise((r) => setTimeout(r, 20)); }
const idle = treeRssMb(child.pid!);
const out: string[] = [];
for (const n of [1, 4]) {
  const a = await autocannon({ url, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' }, connections: n, duration: 5 });
  out.push(`${n} conn ${(a['2xx'] / a.duration).toFixed(1)} req/s p50 ${a.latency.p50}`);
}
clearInterval(timer);
child.kill('SIGTERM');
console.log(`${flags.join(' ')} env ${process.env.PINHOLE_X_ARENA ?? ''}/${process.env.PINHOLE_X_PATTERN ?? ''}: cold ${cold.toFixed(0)} ms, RSS ready ${idle.toFixed(0)} peak ${peak.toFixed(0)} MB; ${out.join('; ')}`);
if (process.env.SHOWLOG) console.log(lines.join('\n'));
