// Winograd F(m x m, 3 x 3) against ORT's own 3x3 convolution, in ONNX Runtime on the CPU, measured in one run:
// single layers of darknet yolov2-tiny-voc's shapes (Conv + LeakyRelu, seeded random weights), and the whole
// tiny-voc model (bench/darknet-model.ts) plain against rewritten by src/onnx/winograd. Per configuration:
// median ms per run, process CPU ms per run, and the largest |difference| to the plain output.
//
//   node --import tsx bench/winograd.ts [--threads 1,2] [--iters 20] [--rounds 2] [--layers a,b] [--tiles 2,4] [--no-model] [--profile]
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { GraphBuilder, attr, decodeModel, onnx } from '../src/onnx/graph.ts';
import { rewriteSites, type ConvSite } from '../src/onnx/winograd/rewrite.ts';
import type { TileSize } from '../src/onnx/winograd/transforms.ts';
import { applyWinograd, candidates, DEFAULT_RULE, tileFor, type WinogradRule } from '../src/onnx/winograd/index.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { readManifest } from '../src/runtime/folder.ts';
import { darknetBenchModel, darknetModelMissing } from './darknet-model.ts';
import { rng, uniform } from '../test/helpers/random.ts';

const { values: o } = parseArgs({
  options: {
    threads: { type: 'string', default: `1,${availableParallelism()}` },
    iters: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    layers: { type: 'string', default: '' },
    tiles: { type: 'string', default: '2,3,4' },
    'no-model': { type: 'boolean', default: false },
    'no-layers': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
  },
});
const threads = [...new Set(o.threads.split(',').map(Number))];
const iters = Number(o.iters);
const rounds = Number(o.rounds);
const tiles = o.tiles.split(',').map(Number) as TileSize[];
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');

/** Seeded uniform values in [-s, s): the same weights in every run. */
const random = (n: number, seed: number, s = 1) => uniform(n, rng(seed), s);

interface Layer { label: string; C: number; K: number; H: number }
const LAYERS: Layer[] = [
  { label: '13x13 1024->1024', C: 1024, K: 1024, H: 13 },
  { label: '13x13 512->1024', C: 512, K: 1024, H: 13 },
  { label: '13x13 256->512', C: 256, K: 512, H: 13 },
  { label: '26x26 128->256', C: 128, K: 256, H: 26 },
  { label: '52x52 64->128', C: 64, K: 128, H: 52 },
  { label: '104x104 32->64', C: 32, K: 64, H: 104 },
  { label: '208x208 16->32', C: 16, K: 32, H: 208 },
  // yolov2@608's and yolo9000@544's larger grids
  { label: '19x19 512->1024', C: 512, K: 1024, H: 19 },
  { label: '38x38 256->512', C: 256, K: 512, H: 38 },
  { label: '76x76 128->256', C: 128, K: 256, H: 76 },
  { label: '104x104 64->128', C: 64, K: 128, H: 104 },
];

function layerModel(l: Layer): { bytes: Uint8Array; site: () => ConvSite[] } {
  const g = new GraphBuilder('layer');
  const x = g.input('x', [1, l.C, l.H, l.H]);
  const fan = l.C * 9;
  const w = random(l.K * l.C * 9, 7, Math.sqrt(3 / fan));
  const b = random(l.K, 8, 0.1);
  const conv = g.node('Conv', [x, g.initializer('w', w, [l.K, l.C, 3, 3]), g.initializer('b', b, [l.K])],
    { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([1, 1]) }, 'conv');
  const y = g.node('LeakyRelu', [conv], { alpha: attr.f(0.1) }, 'leaky');
  g.output(y, 'y', [1, l.K, l.H, l.H]);
  const bytes = g.toModel();
  return { bytes, site: () => [] };
}

function rewritten(bytes: Uint8Array, rule: WinogradRule, tile = (s: ConvSite) => tileFor(rule, s)): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  const sites = candidates(g, rule).flatMap((c) => (c.site ? [c.site] : []));
  rewriteSites(g, sites, tile);
  return onnx.ModelProto.encode(model).finish();
}

interface Timed { ms: number; cpu: number; out: Float32Array }
async function time(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<Timed> {
  let out = (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    out = (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  ms.sort((a, b) => a - b);
  return { ms: ms[ms.length >> 1], cpu: (c.user + c.system) / 1000 / iters, out };
}

function maxDiff(a: Float32Array, b: Float32Array): { abs: number; rel: number } {
  let abs = 0, mag = 0;
  for (let i = 0; i < a.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(a[i]));
  }
  return { abs, rel: abs / mag };
}

async function compare(label: string, variants: Array<{ name: string; bytes: Uint8Array }>, feeds: Record<string, ort.Tensor>): Promise<void> {
  for (const t of threads) {
    const sessions = await Promise.all(variants.map((v) => ort.InferenceSession.create(v.bytes, sessionOptions('cpu', { intraOpThreads: t, spinning: false }))));
    const best: Timed[] = [];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < sessions.length; k++) {
        const x = await time(sessions[k], feeds);
        if (!best[k] || x.ms < best[k].ms) best[k] = x;
      }
    }
    const line = variants.map((v, k) => {
      const d = k === 0 ? '' : ` diff ${maxDiff(best[0].out, best[k].out).abs.toExponential(1)} (rel ${maxDiff(best[0].out, best[k].out).rel.toExponential(1)}) x${(best[0].ms / best[k].ms).toFixed(2)}`;
      return `${v.name} ${best[k].ms.toFixed(2)} ms (cpu ${best[k].cpu.toFixed(1)})${d}`;
    }).join(' | ');
    console.log(`${label.padEnd(20)} ${t}t: ${line}`);
    await Promise.all(sessions.map((s) => s.release()));
  }
}

console.log(`Winograd vs ORT Conv, ORT ${ort.env.versions.common} CPU (${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores), batch 1, best of ${rounds} rounds x median of ${iters} runs; load ${load()}`);
if (!o['no-layers']) {
  const only = o.layers ? o.layers.split(',') : undefined;
  for (const l of LAYERS.filter((x) => !only || only.some((s) => x.label.includes(s)))) {
    const { bytes } = layerModel(l);
    const variants = [{ name: 'conv', bytes }, ...tiles.map((m) => ({ name: `F${m}`, bytes: rewritten(bytes, { minChannels: 1, minInputValues: 1, tile: m }, () => m) }))];
    const feeds = { x: new ort.Tensor('float32', random(l.C * l.H * l.H, 3), [1, l.C, l.H, l.H]) };
    await compare(l.label, variants, feeds);
  }
}
/** ORT's own kernel times per run (its profiler), summed by op type; the Winograd nodes apart. */
async function kernelSplit(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, t: number, runs = 5): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pinhole-bench-wino-'));
  try {
    const s = await ort.InferenceSession.create(bytes, { ...sessionOptions('cpu', { intraOpThreads: t, spinning: false }), enableProfiling: true, profileFilePrefix: path.join(dir, 'p') });
    await s.run(feeds);
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const events = JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
    const by = new Map<string, number>();
    let total = 0;
    for (const e of events.filter((x) => x.cat === 'Node' && x.name.endsWith('_kernel_time'))) {
      const key = `${e.name.includes('_wino') ? 'wino ' : ''}${e.args?.op_name ?? '?'}`;
      // the first run (allocation planning) is left out
      by.set(key, (by.get(key) ?? 0) + e.dur / 1000);
      total += e.dur / 1000;
    }
    const per = (v: number) => (v / (runs + 1)).toFixed(1);
    return `kernels ${per(total)} ms/run: ${[...by].sort((a, b) => b[1] - a[1]).filter(([, v]) => v / (runs + 1) >= 0.05).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const RULES: Array<{ name: string; rule: WinogradRule; tile?: (s: ConvSite) => TileSize }> = [
  { name: 'default', rule: DEFAULT_RULE },
  { name: 'F2 past the bound', rule: DEFAULT_RULE, tile: (s) => (s.K * s.C > DEFAULT_RULE.maxLargeTileWeights! ? 2 : 4) },
  { name: 'F4 everywhere', rule: { ...DEFAULT_RULE, maxLargeTileWeights: undefined } },
  { name: 'F2 everywhere', rule: { ...DEFAULT_RULE, tile: 2 } },
];

if (!o['no-model']) {
  const missing = darknetModelMissing();
  if (missing) console.log(`whole model skipped: missing ${missing}`);
  else {
    const dm = await darknetBenchModel();
    const dir = path.join(dm.modelsDir, dm.name);
    const man = await readManifest(dir);
    const bytes = readFileSync(path.join(dir, 'model.onnx'));
    const x = (await preprocess(readFileSync(o.image), man.input, man.preprocess)).data;
    const feeds = { images: new ort.Tensor('float32', x, [1, man.input.channels, man.input.height, man.input.width]) };
    const variants = [{ name: 'plain', bytes: new Uint8Array(bytes) }, ...RULES.map((r) => ({ name: r.name, bytes: rewritten(bytes, r.rule, r.tile) }))];
    console.log(`\nwhole model: darknet yolov2-tiny-voc@${man.input.width} (random weights), ${o.image}`);
    const t0 = performance.now();
    const pass = applyWinograd(bytes);
    console.log(`the pass (default rule) took ${(performance.now() - t0).toFixed(0)} ms: ${pass.rewritten.length} convs; model.onnx ${(bytes.length / 1e6).toFixed(1)} MB -> `
      + variants.slice(1).map((v) => `${(v.bytes.length / 1e6).toFixed(1)} MB (${v.name})`).join(', '));
    await compare('tiny-voc', variants, feeds);
    if (o.profile) {
      for (const t of threads) for (const v of variants) console.log(`  ${t}t ${v.name}: ${await kernelSplit(v.bytes, feeds, t)}`);
    }
  }
}
console.log(`load ${load()}`);
