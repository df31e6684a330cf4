// KServe v2 infer with JSON tensors against the binary tensor data extension (what tritonclient.http sends by
// default), same model, same input, alternating rounds in one run over HTTP on 127.0.0.1: wall ms per
// request (client encode + server parse + inference + answer + client decode) and bytes each way.
//
//   node --import tsx bench/kserve.ts [--models models] [--model yolov2-synth] [--rounds 8]
import { mkdtempSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Runtime } from '../src/runtime/index.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer } from '../src/server/lifecycle.ts';

const { values: o } = parseArgs({
  options: { models: { type: 'string', default: 'models' }, model: { type: 'string', default: 'yolov2-synth' }, rounds: { type: 'string', default: '8' } },
});
const rounds = Number(o.rounds);
// only the one model folder is loaded
const dir = mkdtempSync(join(tmpdir(), 'pinhole-bench-kserve-'));
cpSync(join(o.models, o.model), join(dir, o.model), { recursive: true });
const runtime = await Runtime.create({ modelsDir: dir, log: { info() {}, warn() {}, error() {} } });
const server = await startServer({ app: await buildApp({ runtime }), runtime, host: '127.0.0.1', port: 0 });
const sig = runtime.signature(o.model);
if (!sig) throw new Error(`model ${o.model} did not load`);
const input = sig.inputs[0];
const shape = input.shape.map((d) => (d < 0 ? 1 : d));
const n = shape.reduce((a, b) => a * b, 1);
const x = Float32Array.from({ length: n }, (_, i) => ((i * 37) % 255) / 255);
const url = `${server.url}/v2/models/${o.model}/infer`;

const jsonBody = JSON.stringify({ inputs: [{ name: input.name, shape, datatype: 'FP32', data: Array.from(x) }] });
const head = Buffer.from(JSON.stringify({
  inputs: [{ name: input.name, shape, datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
  parameters: { binary_data_output: true },
}));

async function json(): Promise<[number, number, number]> {
  const t = performance.now();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody });
  const text = await r.text();
  const out = JSON.parse(text) as { outputs: Array<{ data: number[] }> };
  Float32Array.from(out.outputs[0].data);
  return [performance.now() - t, Buffer.byteLength(jsonBody), Buffer.byteLength(text)];
}

async function binary(): Promise<[number, number, number]> {
  const t = performance.now();
  const body = Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
  const r = await fetch(url, { method: 'POST', headers: { 'inference-header-content-length': String(head.length) }, body });
  const b = Buffer.from(await r.arrayBuffer());
  const hl = Number(r.headers.get('inference-header-content-length'));
  JSON.parse(b.subarray(0, hl).toString());
  new Float32Array(Uint8Array.from(b.subarray(hl)).buffer);
  return [performance.now() - t, body.length, b.length];
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
await json(); await binary(); // warm-up
const res = { json: [] as number[][], binary: [] as number[][] };
for (let i = 0; i < rounds; i++) { res.json.push(await json()); res.binary.push(await binary()); }
console.log(`kserve infer ${o.model} input [${shape.join(',')}] FP32, ${rounds} alternating rounds`);
for (const k of ['json', 'binary'] as const) {
  const r = res[k];
  console.log(`  ${k.padEnd(6)} median ${median(r.map((v) => v[0])).toFixed(1)} ms  request ${r[0][1]} B  answer ${r[0][2]} B`);
}
console.log(`  binary is ${(median(res.json.map((v) => v[0])) / median(res.binary.map((v) => v[0]))).toFixed(1)}x faster per request`);
await server.close();
rmSync(dir, { recursive: true, force: true });
