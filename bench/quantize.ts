// int8 vs float32 images/s, measured in the same run: every detector folder under --models that has an
// int8 sibling (NAME and NAME-int8, as `pinhole quantize` ships them), and darknet's yolov2-tiny-voc@416
// with seeded random weights quantized on the spot (bench/darknet-model.ts). ONNX Runtime alone, batch 1,
// on a real letterboxed image (dog.jpg); float and int8 runs alternate over the rounds so that the
// machine's other load hits both alike. Also prints which kernels ORT fused the int8 graph into.
//
//   node --import tsx bench/quantize.ts [--models models] [--seconds 3] [--rounds 3] [--threads 1,2] [--no-darknet]
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { decodeModel } from '../src/onnx/graph.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { readManifest } from '../src/runtime/folder.ts';
import { darknetBenchModel, darknetModelMissing } from './darknet-model.ts';

const { values: o } = parseArgs({
  options: {
    models: { type: 'string', default: 'models' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: `1,${availableParallelism()}` },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    'no-darknet': { type: 'boolean', default: false },
  },
});
const seconds = Number(o.seconds), rounds = Number(o.rounds);
const threads = [...new Set(o.threads.split(',').map(Number))];
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');

const pairs: Array<{ label: string; fp32: string; int8: string }> = [];
if (existsSync(o.models)) {
  for (const d of readdirSync(o.models).sort()) {
    const int8 = path.join(o.models, `${d}-int8`);
    if (!d.endsWith('-int8') && existsSync(path.join(int8, 'model.onnx'))) pairs.push({ label: d, fp32: path.join(o.models, d), int8 });
  }
}
if (!o['no-darknet']) {
  const missing = darknetModelMissing();
  if (missing) console.log(`darknet yolov2-tiny-voc skipped: missing ${missing}`);
  else {
    const m = await darknetBenchModel();
    pairs.push({ label: 'yolov2-tiny-voc (random weights)', fp32: path.join(m.modelsDir, m.name), int8: path.join(m.modelsDir, m.int8Name) });
  }
}
if (pairs.length === 0) {
  console.error(`bench/quantize: no NAME / NAME-int8 folder pairs in ${o.models} (make one with pinhole quantize)`);
  process.exit(2);
}

/** Kernel counts of the graph ORT actually runs (its optimized model, written to a temp file). */
async function fusedOps(file: string): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pinhole-bench-q-'));
  try {
    const out = path.join(dir, 'opt.onnx');
    const s = await ort.InferenceSession.create(file, { ...sessionOptions('cpu', { intraOpThreads: 1, quantized: true }), optimizedModelFilePath: out });
    await s.release();
    const c = new Map<string, number>();
    for (const n of decodeModel(readFileSync(out)).graph!.node!) c.set(n.opType!, (c.get(n.opType!) ?? 0) + 1);
    return [...c].filter(([k]) => /^QLinear|^QGemm|^Conv$|^Gemm$|^MatMulInteger/.test(k)).map(([k, v]) => `${k} x${v}`).join(', ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const image = readFileSync(o.image);
console.log(`int8 vs float32, ORT ${ort.env.versions?.common ?? ''} CPU (${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores), batch 1, ${rounds} rounds x ${seconds} s each, image ${o.image}; load ${load()}`);
const summary: string[] = [];
for (const p of pairs) {
  const m = await readManifest(p.fp32);
  const x = (await preprocess(image, m.input, m.preprocess)).data;
  const dims = [1, m.input.channels, m.input.height, m.input.width];
  console.log(`\n${p.label} ${m.input.width}x${m.input.height}: int8 graph runs as ${await fusedOps(path.join(p.int8, 'model.onnx'))}`);
  for (const t of threads) {
    // the options the runtime's workers use (src/runtime/ort-session.ts), int8 graphs flagged as such
    const sessions = await Promise.all([p.fp32, p.int8].map((d, k) => ort.InferenceSession.create(path.join(d, 'model.onnx'),
      sessionOptions('cpu', { intraOpThreads: t, quantized: k === 1 }))));
    const feeds = sessions.map((s) => ({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims) }));
    for (let k = 0; k < 2; k++) for (let i = 0; i < 5; i++) await sessions[k].run(feeds[k]);
    const n = [0, 0], wall = [0, 0], cpu = [0, 0];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < 2; k++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        while (performance.now() - t0 < seconds * 1000) {
          await sessions[k].run(feeds[k]);
          n[k]++;
        }
        wall[k] += performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpu[k] += (c.user + c.system) / 1000;
      }
    }
    await Promise.all(sessions.map((s) => s.release()));
    const ips = n.map((v, k) => (1000 * v) / wall[k]);
    const cpuMs = cpu.map((v, k) => v / n[k]);
    const line = `${p.label}, ${t} thread${t > 1 ? 's' : ''}: float32 ${ips[0].toFixed(1)} images/s (${cpuMs[0].toFixed(1)} ms CPU/image), int8 ${ips[1].toFixed(1)} images/s (${cpuMs[1].toFixed(1)} ms CPU/image): ${(ips[1] / ips[0]).toFixed(2)}x images/s, ${(cpuMs[0] / cpuMs[1]).toFixed(2)}x less CPU per image`;
    console.log(`  ${line}; load ${load()}`);
    summary.push(line);
  }
}
console.log(`\nsummary (target: int8 >= 1.8x the float32 images/s), load now ${load()}:`);
for (const l of summary) console.log(`  ${l}`);
