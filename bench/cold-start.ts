// Cold start of `pinhole serve`: from spawning the process to the first answered POST /v1/detect, for the
// TypeScript sources run through tsx (what `npm start` did) and for the compiled build in dist/
// (`npm run build`), alternating, same models, same machine, in one run.
//
//   node --import tsx bench/cold-start.ts [--rounds 5] [--models models] [--model NAME]
//
// tsx keeps a disk cache of its transforms: "tsx (cold cache)" starts with an empty one (the first start
// after install or upgrade, or every start of a fresh container), "tsx (warm cache)" with a filled one.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pickDetector } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    models: { type: 'string', default: 'models' },
    model: { type: 'string' },
  },
});
const ROOT = resolve(import.meta.dirname, '..');
const DIST_MAIN = join(ROOT, 'dist/cli/main.js');
if (!existsSync(DIST_MAIN)) {
  console.error('bench/cold-start: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const model = pickDetector(o.models, o.model);
if (!model) {
  console.error(`bench/cold-start: no detection model under ${o.models}`);
  process.exit(2);
}
const image = readFileSync(join(ROOT, 'examples/shapes.png'));

// tsx keeps its transform cache under the OS temp folder (TMPDIR): each child gets a private one, so
// emptying it touches no other process's cache.
const warmTmp = mkdtempSync(join(tmpdir(), 'pinhole-cold-start-warm-'));
function freshTmp(): string { return mkdtempSync(join(tmpdir(), 'pinhole-cold-start-cold-')); }
const scratch: string[] = [warmTmp];
process.on('exit', () => { for (const d of scratch) rmSync(d, { recursive: true, force: true }); });

interface Start { listenMs: number; firstAnswerMs: number }

async function once(args: string[], tmp: string): Promise<Start> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...args, 'serve', '--models', o.models, '--port', '0', '--log-level', 'info'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production', TMPDIR: tmp },
  });
  let out = '';
  try {
    const url = await new Promise<string>((res, rej) => {
      const onData = (b: Buffer) => {
        out += b.toString();
        const m = /serving \d+\/\d+ model\(s\) at (http:\/\/[^\s"]+)/.exec(out);
        if (m) res(m[1]);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (c) => rej(new Error(`serve exited ${c} before listening:\n${out.slice(-2000)}`)));
    });
    const listenMs = performance.now() - t0;
    for (;;) {
      const r = await fetch(`${url}/v1/detect?model=${model!.name}`, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } });
      const body = await r.text();
      if (r.status === 200) return { listenMs, firstAnswerMs: performance.now() - t0 };
      if (r.status !== 503) throw new Error(`first detect answered ${r.status}: ${body}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    const gone = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    await gone;
  }
}

const MODES: Array<[string, string[], boolean]> = [
  ['tsx (cold cache)', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')], true],
  ['tsx (warm cache)', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')], false],
  ['compiled dist/', [DIST_MAIN], false],
];
const rounds = Number(o.rounds);
const results = new Map<string, Start[]>(MODES.map(([n]) => [n, []]));
console.log(`cold start, spawn -> first 200 from POST /v1/detect?model=${model.name}; models: ${o.models}; ${rounds} rounds, modes alternating`);
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} cores)`);
await once(MODES[1][1], warmTmp); // fills the warm cache and the OS file cache before the first measured round
for (let r = 0; r < rounds; r++) {
  for (const [name, args, cold] of MODES) {
    const tmp = cold ? freshTmp() : warmTmp;
    if (cold) scratch.push(tmp);
    results.get(name)!.push(await once(args, tmp));
  }
}
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const [name, rs] of results) {
  const first = rs.map((x) => x.firstAnswerMs);
  console.log(`${name.padEnd(18)} first answer median ${median(first).toFixed(0)} ms (min ${Math.min(...first).toFixed(0)}, max ${Math.max(...first).toFixed(0)}); `
    + `listening median ${median(rs.map((x) => x.listenMs)).toFixed(0)} ms`);
}
const m = (n: string) => median(results.get(n)!.map((x) => x.firstAnswerMs));
console.log(`ratio compiled / tsx: ${(m('compiled dist/') / m('tsx (warm cache)')).toFixed(2)} (warm cache), ${(m('compiled dist/') / m('tsx (cold cache)')).toFixed(2)} (cold cache)`);
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
