// Cold start, builds against each other: spawn `pinhole serve` (compiled, dist/) of each checkout in
// turn, alternating, and time spawn -> listening -> the first 200 from POST /v1/detect (dog.jpg, polled every
// --poll ms), on the peer bench's darknet yolov2-tiny-voc (float32 and int8 folders, one model per server).
// Each child runs with PINHOLE_TRACE_START=1, so a build that has the marks (src/runtime/start-trace.ts)
// also reports its phases per thread, as ms from spawn (medians, min-max). After the first answer the
// server is left running --linger ms, for the marks of what starts after listening.
//
//   npm run build && node --import tsx bench/cold-ab.ts --b /path/to/other/checkout [--b another] [--a .] [--rounds 6]
//     [--models fp32,int8] [--poll 5] [--linger 1500] [--image /usr/share/darknet/data/dog.jpg] [--flags "..."]
//
// The other checkout needs its own `npm run build` (dist/cli/main.js). The ORT cache is the default one
// (warm after the first, untimed start of each build and model).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { darknetBenchModel, darknetModelMissing } from './darknet-model.ts';

const { values: o } = parseArgs({
  options: {
    a: { type: 'string', default: '.' },
    b: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '6' },
    models: { type: 'string', default: 'fp32,int8' },
    poll: { type: 'string', default: '5' },
    linger: { type: 'string', default: '1500' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    flags: { type: 'string', default: '' },
  },
});
const builds = [o.a, ...o.b].map((d) => resolve(d));
for (const d of builds) {
  if (!existsSync(join(d, 'dist/cli/main.js'))) {
    console.error(`bench/cold-ab: ${d}/dist/cli/main.js is missing; run \`npm run build\` there first`);
    process.exit(2);
  }
}
const missing = darknetModelMissing();
if (missing) {
  console.error(`bench/cold-ab: cannot build the bench model: missing ${missing}`);
  process.exit(2);
}
const dn = await darknetBenchModel();
const scratch = mkdtempSync(join(tmpdir(), 'pinhole-cold-ab-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
/** A models folder holding only `name`. */
function only(name: string): string {
  const d = join(scratch, name);
  if (!existsSync(d)) {
    mkdirSync(d);
    symlinkSync(join(dn.modelsDir, name), join(d, name));
  }
  return d;
}
const folders: Record<string, string> = { fp32: dn.name, int8: dn.int8Name };
const image = readFileSync(o.image);
const poll = Number(o.poll);

interface Start { listen: number; first: number; marks: Map<string, number> }

async function once(root: string, models: string): Promise<Start> {
  const t0 = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--models', models, '--port', '0', '--log-level', 'info',
    ...o.flags.split(/\s+/).filter(Boolean)], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production', PINHOLE_TRACE_START: '1' },
  });
  let out = '';
  const marks = new Map<string, number>();
  const threads = new Map<string, string>();
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
    for (const m of b.toString().matchAll(/^\[start\] ([\d.]+) (t\d+) (.*)$/gm)) {
      // worker threads by their order of appearance: w1, w2 (thread ids differ from start to start)
      const who = m[2] === 't0' ? 'main' : (threads.get(m[2]) ?? threads.set(m[2], `w${threads.size + 1}`).get(m[2])!);
      const key = `${who}: ${m[3]}`;
      if (!marks.has(key)) marks.set(key, Number(m[1]) - t0);
    }
  });
  try {
    const url = await new Promise<string>((res, rej) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /serving \d+\/\d+ model\(s\) at (http:\/\/[^\s"]+)/.exec(out);
        if (m) res(m[1]);
      });
      child.on('exit', (c) => rej(new Error(`serve exited ${c} before listening:\n${out.slice(-2000)}`)));
    });
    const listen = performance.timeOrigin + performance.now() - t0;
    for (;;) {
      const r = await fetch(`${url}/v1/detect`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
      await r.arrayBuffer();
      if (r.status === 200) break;
      if (r.status !== 503) throw new Error(`first detect answered ${r.status}`);
      await new Promise((res) => setTimeout(res, poll));
    }
    const first = performance.timeOrigin + performance.now() - t0;
    await new Promise((res) => setTimeout(res, Number(o.linger)));
    return { listen, first, marks };
  } finally {
    const gone = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    await gone;
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const span = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
const rounds = Number(o.rounds);
const kinds = o.models.split(',');
console.log(`cold start A/B, spawn -> first 200 from POST /v1/detect (${o.image}), ${rounds} rounds, builds alternating`);
builds.forEach((d, i) => console.log(`  ${'ABCDEF'[i]}: ${d}`));
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} cores)`);
const runs = new Map<string, Start[]>();
// untimed: fills the ORT cache and the OS file cache for each build and model
for (const k of kinds) for (const d of builds) await once(d, only(folders[k]));
for (let r = 0; r < rounds; r++) {
  for (const k of kinds) {
    // the order turns every round: no build always starts right after the same other one
    const order = builds.map((_, i) => builds[(i + r) % builds.length]);
    for (const d of order) {
      const s = await once(d, only(folders[k]));
      const key = `${k} ${'ABCDEF'[builds.indexOf(d)]}`;
      runs.set(key, [...(runs.get(key) ?? []), s]);
      console.log(`round ${r + 1} ${key}: listening ${s.listen.toFixed(0)} ms, first answer ${s.first.toFixed(0)} ms (load ${loadavg()[0].toFixed(2)})`);
    }
  }
}
for (const [key, ss] of runs) {
  console.log(`\n${key}: first answer ${span(ss.map((s) => s.first))} ms, listening ${span(ss.map((s) => s.listen))} ms; phases, ms from spawn:`);
  const labels = [...new Set(ss.flatMap((s) => [...s.marks.keys()]))];
  const rows = labels.map((l) => ({ l, t: ss.map((s) => s.marks.get(l)).filter((x): x is number => x !== undefined) }))
    .sort((x, y) => median(x.t) - median(y.t));
  for (const { l, t } of rows) console.log(`  ${span(t).padStart(18)}  ${l}${t.length < ss.length ? ` (${t.length} of ${ss.length} starts)` : ''}`);
}
// the load of a shared machine drifts within a run: each round's starts against A's of the same round
if (builds.length > 1) {
  console.log('\nfirst answer against A, per round (paired), median ratio (min-max):');
  for (const k of kinds) {
    const a = runs.get(`${k} A`)!.map((s) => s.first);
    for (let i = 1; i < builds.length; i++) {
      const x = runs.get(`${k} ${'ABCDEF'[i]}`)!.map((s) => s.first);
      const r = a.map((v, j) => v / x[j]);
      console.log(`  ${k}: A / ${'ABCDEF'[i]} ${median(r).toFixed(2)} (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}), A faster in ${r.filter((v) => v < 1).length} of ${r.length} rounds`);
    }
  }
}
console.log(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
