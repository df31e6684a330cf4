// The graph ONNX Runtime really runs for a model folder, node by node: its optimized model (saved with the
// runtime's own session options, src/runtime/ort-session.ts, int8 folders flagged as such) listed in order
// with the kernel time of each node from ORT's profiler at 1 and 2 intra-op threads (median over the runs,
// ms per image), and the totals by operator. What it is for: seeing which steps of an int8 graph are not
// int8 kernels (float activations, NCHW<->NHWC transposes, reorders) and which do not scale with threads.
//
//   node --import tsx bench/int8-graph.ts [--model DIR] [--image FILE] [--runs 40] [--threads 1,2]
// Default model: darknet's yolov2-tiny-voc@416 int8 of the peer bench (bench/darknet-model.ts).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { decodeModel } from '../src/onnx/graph.ts';
import { readManifest } from '../src/runtime/folder.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { int8BenchModelDir } from './darknet-model.ts';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string' },
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    runs: { type: 'string', default: '40' },
    threads: { type: 'string', default: '1,2' },
  },
});
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
const dir = await int8BenchModelDir(o.model, 'bench/int8-graph');
const m = await readManifest(dir);
const quantized = m.precision === 'int8';
const runs = Number(o.runs);
const threads = o.threads.split(',').map(Number);
const x = (await preprocess(readFileSync(o.image), m.input, m.preprocess)).data;
const scratch = mkdtempSync(join(tmpdir(), 'pinhole-int8-graph-'));
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];

// ORT names the nodes it creates anew in each session: each profile is read against its own session's graph
interface Profile { wall: number; nodes: Array<{ op: string; name: string }>; byNode: Map<string, number> }

/** The session's optimized graph, kernel ms per node (median over `runs`) at `t` threads, the run's wall p50. */
async function profile(t: number): Promise<Profile> {
  const optimized = join(scratch, `t${t}.onnx`);
  const s = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    ...sessionOptions('cpu', { intraOpThreads: t, spinning: false, quantized }), enableProfiling: true, profileFilePrefix: join(scratch, `t${t}`),
    optimizedModelFilePath: optimized,
  });
  const nodes = decodeModel(readFileSync(optimized)).graph!.node!.map((n) => ({
    op: `${n.opType}${n.domain && n.domain !== 'com.microsoft' ? ` (${n.domain.replace('com.microsoft.', '')})` : ''}`, name: n.name!,
  }));
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, [1, m.input.channels, m.input.height, m.input.width]) };
  for (let i = 0; i < 5; i++) await s.run(feeds);
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    wall.push(performance.now() - t0);
  }
  s.endProfiling();
  await s.release();
  const file = readdirSync(scratch).find((f) => f.startsWith(`t${t}`) && f.endsWith('.json'))!;
  const events = JSON.parse(readFileSync(join(scratch, file), 'utf8')) as Array<{ cat?: string; name: string; dur: number }>;
  const times = new Map<string, number[]>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const k = e.name.slice(0, -'_kernel_time'.length);
    times.set(k, [...(times.get(k) ?? []), e.dur / 1000]);
  }
  return { wall: med(wall), nodes, byNode: new Map([...times].map(([k, v]) => [k, med(v)])) };
}

try {
  console.log(`${basename(dir)} (${m.precision ?? 'float32'}, ${m.input.width}x${m.input.height}), ORT ${ort.env.versions?.common ?? ''}, ${o.image}, ${runs} runs; load ${load()}`);
  const profiles: Profile[] = [];
  for (const t of threads) profiles.push(await profile(t));
  console.log(`\n${'operator'.padEnd(30)} ${threads.map((t) => `${t} thr ms`.padStart(9)).join(' ')}  node`);
  const byOp = threads.map(() => new Map<string, number>());
  profiles[0].nodes.forEach((n, i) => {
    // the same graph in every session, node for node (a different one would show as '?')
    const ms = profiles.map((p) => (p.nodes[i]?.op === n.op ? p.byNode.get(p.nodes[i].name) : undefined));
    ms.forEach((v, k) => byOp[k].set(n.op, (byOp[k].get(n.op) ?? 0) + (v ?? 0)));
    console.log(`${n.op.padEnd(30)} ${ms.map((v) => (v === undefined ? '?' : v.toFixed(3)).padStart(9)).join(' ')}  ${n.name}`);
  });
  threads.forEach((t, k) => {
    const total = [...byOp[k].values()].reduce((a, b) => a + b, 0);
    console.log(`\n${t} thread(s): run wall p50 ${profiles[k].wall.toFixed(2)} ms, kernels ${total.toFixed(2)} ms: `
      + [...byOp[k]].sort((a, b) => b[1] - a[1]).map(([op, v]) => `${op} ${v.toFixed(2)}`).join(', '));
  });
  console.log(`load ${load()}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
