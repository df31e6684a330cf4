// Issue 17 findings 2, 4 (stackgan tokens) and 7 (a stackgan folder without model.onnx), on the shipped
// generators served by `pinhole serve` in a child process (its RSS is read from /proc): an oversized KServe
// batch is refused before the model runs, the server's memory does not grow and /v2/health/live keeps
// answering fast throughout; the answer-size cap; token ids outside the vocabulary; model_not_ready.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tempDirs } from './helpers/tmp.ts';

const ROOT = join(import.meta.dirname, '..');
const OUTPUT_CAP = 20_000;
const tmp = tempDirs('pinhole-kserve-');

let child: ChildProcess;
let url: string;
let out = '';

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

const infer = (model: string, body: string) => fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  .then(async (r) => ({ status: r.status, json: await r.json() as { error?: string; outputs?: Array<{ shape: number[] }> } }));

/** GET /v2/health/live every 10 ms while `during` runs: the slowest answer and the count. */
async function pingFor(during: () => Promise<void>): Promise<{ max: number; pings: number }> {
  let max = 0;
  let pings = 0;
  let stop = false;
  const pinger = (async () => {
    while (!stop) {
      const t = performance.now();
      const r = await fetch(`${url}/v2/health/live`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`live answered ${r.status}`);
      max = Math.max(max, performance.now() - t);
      pings++;
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  try { await during(); } finally { stop = true; await pinger; }
  return { max, pings };
}

function zBody(n: number): string {
  // noise with two decimals, ~6 bytes a value (the reproduction sent N=3000 in 375 KB)
  const row = `[${Array.from({ length: 64 }, (_, i) => (Math.sin(i) * 0.8).toFixed(2)).join(',')}]`;
  return `{"inputs":[{"name":"z","shape":[${n},64],"datatype":"FP32","data":[${new Array(n).fill(row).join(',')}]}]}`;
}

beforeAll(async () => {
  const dir = tmp();
  for (const m of ['wgan-synth', 'stackgan-synth']) symlinkSync(join(ROOT, 'models', m), join(dir, m));
  mkdirSync(join(dir, 'sg-no-graph'));
  copyFileSync(join(ROOT, 'models/stackgan-synth/model.json'), join(dir, 'sg-no-graph/model.json'));
  child = spawn(process.execPath, ['bin/pinhole.js', 'serve', '--models', dir, '--port', '0', '--workers', '1', '--infer-max-output', String(OUTPUT_CAP)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { out += c; });
  const t0 = Date.now();
  while (Date.now() - t0 < 90_000) {
    const m = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(out);
    if (m) { url = m[1]; break; }
    if (child.exitCode !== null) throw new Error(out);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!url) throw new Error(`server did not start: ${out}`);
});

afterAll(() => { child?.kill('SIGKILL'); });

describe('KServe infer caps on the shipped wgan', () => {
  it('oversized batches are refused before running: RSS flat, /v2/health/live within 500 ms throughout', async () => {
    const ok = await infer('wgan-synth', zBody(2));
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.json.outputs![0].shape).toEqual([2, 3, 32, 32]);
    const one = zBody(3000);
    const three = [zBody(5000), zBody(5000), zBody(5000)];
    // the same pings with nothing else running: what this (shared, maybe busy) machine gives anyway
    const quiet = await pingFor(async () => { await new Promise((r) => setTimeout(r, 1_500)); });
    const rss0 = rssMiB(child.pid!);
    let rssMax = rss0;
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMiB(child.pid!)); }, 20);
    let answers: Array<Awaited<ReturnType<typeof infer>>> = [];
    const busy = await pingFor(async () => {
      answers = [await infer('wgan-synth', one), ...(await Promise.all(three.map((b) => infer('wgan-synth', b))))];
      await new Promise((r) => setTimeout(r, 200));
    }).finally(() => clearInterval(sampler));
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(Object.keys(a.json)).toEqual(['error']);
      expect(a.json.error).toMatch(/batch of (3000|5000) is over the cap of 64/);
    }
    const grew = rssMax - rss0;
    console.log(`oversized KServe batches: RSS ${rss0.toFixed(0)} -> max ${rssMax.toFixed(0)} MiB; /v2/health/live slowest ${busy.max.toFixed(1)} ms `
      + `(${busy.pings} pings), ${quiet.max.toFixed(1)} ms with nothing else running (${quiet.pings} pings); load ${loadavg()[0].toFixed(1)}`);
    expect(busy.pings).toBeGreaterThan(5);
    expect(grew).toBeLessThan(100);
    // Within 500 ms of what the machine gives an idle server in the same run: before the caps one N=3000
    // request blocked this route for seconds, while on 2 cores shared with the other test files running in
    // parallel a lone scheduling stall reached 177 ms (a clean-clone CI run; alone this test reads 11-18 ms).
    expect(busy.max).toBeLessThan(500 + quiet.max);
  });

  it('an answer over the size cap -> 413 naming the cap, before the model runs', async () => {
    // 4 x 3 x 32 x 32 = 12288 values fit under 20000; 8 do not
    expect((await infer('wgan-synth', zBody(4))).status).toBe(200);
    const r = await infer('wgan-synth', zBody(8));
    expect(r.status).toBe(413);
    expect(r.json.error).toMatch(new RegExp(`24576 values, over the cap of ${OUTPUT_CAP}`));
  });
});

describe('stackgan', () => {
  async function stackganBody(tokenValue: number): Promise<string> {
    const meta = await (await fetch(`${url}/v2/models/stackgan-synth`)).json() as { inputs: Array<{ name: string; datatype: string; shape: number[] }> };
    const inputs = meta.inputs.map((t) => {
      const shape = t.shape.map((d) => (d < 0 ? 1 : d));
      const n = shape.reduce((a, b) => a * b, 1);
      return { name: t.name, shape, datatype: t.datatype, data: new Array(n).fill(t.datatype === 'INT32' ? tokenValue : 0) };
    });
    expect(inputs.some((t) => t.datatype === 'INT32')).toBe(true);
    return JSON.stringify({ inputs });
  }

  it('KServe token ids outside the vocabulary -> 400 in the KServe shape; ids inside -> 200', async () => {
    expect((await infer('stackgan-synth', await stackganBody(1))).status).toBe(200);
    for (const v of [99_999, -1]) {
      const r = await infer('stackgan-synth', await stackganBody(v));
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json.error).toMatch(/outside the vocabulary/);
    }
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
  });

  it('a stackgan folder missing only model.onnx -> 503 model_not_ready on /v1/generate', async () => {
    const r = await fetch(`${url}/v1/generate`, { method: 'POST', body: JSON.stringify({ text: 'a red circle', model: 'sg-no-graph' }), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(503);
    const b = await r.json() as { error: { code: string; message: string } };
    expect(b.error.code).toBe('model_not_ready');
    expect(b.error.message).toMatch(/model\.onnx/);
    const models = await (await fetch(`${url}/v1/models`)).json() as { models: Array<{ name: string; kind?: string; status: string }> };
    expect(models.models.find((m) => m.name === 'sg-no-graph')).toMatchObject({ kind: 'stackgan', status: 'error' });
  });
});
