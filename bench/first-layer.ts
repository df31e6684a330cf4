// The first layer of a darknet detector (3x3 stride-1 convolution from 3 channels, LeakyRelu, 2x2/2 max pool)
// in ORT, encoded several ways, float32 and int8 (QDQ), at 1 and 2 intra-op threads: which encoding costs the
// least per image. The encodings:
//  plain   Conv 3x3 -> LeakyRelu -> MaxPool (what the models hold);
//  s2d     Pad 1 -> SpaceToDepth 2 -> Conv 2x2 (12 -> 4C: the four pool phases' outputs) -> max of the four
//          phase groups (ReduceMax, or Split + Max) -> LeakyRelu: the same values (max commutes with the
//          monotone activation), no full-resolution tensor after the convolution;
//  s2d-pool the same with the max as a 1x4 pool over a view of the NHWC tensor (src/onnx/quantize/space-to-depth.ts);
//  s2d-in  s2d with the input already in SpaceToDepth form (what a preprocessing that wrote that layout
//          would give ORT): what the Pad and SpaceToDepth cost;
//  s2d-q8  s2d-pool with the image quantized before the Pad and SpaceToDepth (uint8 rearranged, not float);
//  s2d-u8  s2d-pool fed that layout as uint8 pixels (DequantizeLinear at 1/255 the graph's first node): no Pad,
//          SpaceToDepth or QuantizeLinear in ORT, and a quarter of the bytes for the preprocessing to write;
//  k4s2    the phases as one 4x4 stride-2 convolution (pad 1) on the image itself (each phase's 3x3 kernel at its
//          offset in the 4x4), the max as in s2d-pool: the same 48 terms, no Pad or SpaceToDepth;
//  u8-nchw s2d-pool fed the image as uint8 pixels in NCHW: Pad and SpaceToDepth on bytes, then DequantizeLinear;
//  d2s     the 2x2 convolution's phases put back in place (DepthToSpace) and pooled.
// Each float encoding is checked against plain (max |difference|). The int8 ones quantize the input at 1/255
// and the convolution's output at a scale from the float run, as `pinhole quantize` would.
//
//   node --import tsx bench/first-layer.ts [--size 320] [--cout 8] [--runs 200] [--rounds 3] [--threads 1,2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { attr, decodeModel, GraphBuilder } from '../src/onnx/graph.ts';
import { phaseKernel } from '../src/onnx/quantize/space-to-depth.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { rng, uniform } from '../test/helpers/random.ts';

const { values: o } = parseArgs({
  options: {
    size: { type: 'string', default: '320' },
    cout: { type: 'string', default: '8' },
    runs: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    only: { type: 'string' },
  },
});
const S = Number(o.size), C = Number(o.cout), runs = Number(o.runs), rounds = Number(o.rounds);
const threads = o.threads.split(',').map(Number);
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
const r = rng(20);
const w = uniform(C * 3 * 9, r, 0.5);
const bias = uniform(C, r, 0.1);
const alpha = 0.1;
const H = S / 2;

/** The same phases as one 4x4 stride-2 convolution (pad 1) on the image: phase (a, b) is the 3x3 kernel at offset (a, b). */
function k4Weights(): Float32Array {
  const k = new Float32Array(4 * C * 3 * 16);
  for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) for (let oc = 0; oc < C; oc++) for (let c = 0; c < 3; c++) {
    for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      k[((((a * 2 + b) * C + oc) * 3 + c) * 4 + a + ky) * 4 + b + kx] = w[((oc * 3 + c) * 3 + ky) * 3 + kx];
    }
  }
  return k;
}

interface Q { x: [number, number]; conv: [number, number]; act: [number, number] }
type Enc = 'plain' | 's2d' | 's2d-split' | 's2d-pool' | 's2d-q8' | 's2d-in' | 's2d-u8' | 'u8-nchw' | 'k4s2' | 'd2s';

/** float32 (q undefined) or QDQ int8 graph of one encoding; input [1,3,S,S] or, for s2d-in, [1,12,S/2+1,S/2+1]. */
function build(enc: Enc, q?: Q): Uint8Array {
  const g = new GraphBuilder();
  const qdq = (t: string, [s, z]: [number, number], hint: string) => {
    if (!q) return t;
    const si = g.scalar(`${hint}_s`, s), zi = g.initializer(`${hint}_z`, Uint8Array.of(z), []);
    return g.node('DequantizeLinear', [g.node('QuantizeLinear', [t, si, zi]), si, zi]);
  };
  const weights = (data: Float32Array, dims: number[]) => {
    const wi = g.initializer('w', data, dims);
    if (!q) return wi;
    const n = dims[0], per = data.length / n;
    const sc = new Float32Array(n), qi = new Int8Array(data.length);
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let j = 0; j < per; j++) m = Math.max(m, Math.abs(data[i * per + j]));
      sc[i] = m > 0 ? m / 127 : 1;
      for (let j = 0; j < per; j++) qi[i * per + j] = Math.round(data[i * per + j] / sc[i]);
    }
    return g.node('DequantizeLinear', [g.initializer('wq', qi, dims), g.initializer('ws', sc, [n]), g.initializer('wz', new Int8Array(n), [n])], { axis: attr.i(0) });
  };
  const biasOf = (reps: number) => {
    const b = new Float32Array(reps * C);
    for (let i = 0; i < reps; i++) b.set(bias, i * C);
    if (!q) return g.initializer('b', b, [b.length]);
    // int32 at scale x * w per channel, as the quantizer writes it (approximated: the float bias is kept for timing)
    return g.initializer('b', b, [b.length]);
  };
  const leaky = (t: string) => g.node('LeakyRelu', [t], { alpha: attr.f(alpha) });
  const pool = (t: string) => g.node('MaxPool', [t], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
  let y: string;
  if (enc === 'plain') {
    const x = qdq(g.input('x', [1, 3, S, S]), q?.x ?? [1, 0], 'x');
    const conv = g.node('Conv', [x, weights(w, [C, 3, 3, 3]), biasOf(1)], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) });
    // int8: pool before the activation (commute.ts); float: the activation fuses into the convolution
    y = q ? leaky(qdq(pool(qdq(conv, q.conv, 'c')), q.conv, 'p')) : pool(leaky(conv));
  } else {
    let s = '';
    if (enc === 'k4s2') s = qdq(g.input('x', [1, 3, S, S]), q?.x ?? [1, 0], 'x');
    else if (enc === 's2d-in') s = g.input('x', [1, 12, H + 1, H + 1]);
    else if (enc === 's2d-u8') {
      // the pixels themselves: x = v / 255 exactly, so the input's DequantizeLinear is the only conversion
      const u8 = g.input('x', [1, 12, H + 1, H + 1], 'uint8');
      s = g.node('DequantizeLinear', [u8, g.scalar('x_s', 1 / 255), g.initializer('x_z', Uint8Array.of(0), [])]);
    }
    else if (enc === 'u8-nchw') {
      // the image as uint8 pixels in its own layout: Pad and SpaceToDepth on bytes, then the DequantizeLinear
      const padded = g.node('Pad', [g.input('x', [1, 3, S, S], 'uint8'), g.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])]);
      s = g.node('DequantizeLinear', [g.node('SpaceToDepth', [padded], { blocksize: attr.i(2) }), g.scalar('x_s', 1 / 255), g.initializer('x_z', Uint8Array.of(0), [])]);
    } else if (enc === 's2d-q8') {
      // the image quantized first, padded and rearranged as uint8 (a quarter of the bytes to move)
      const x8 = (t: string) => qdq(t, q?.x ?? [1, 0], 'x');
      const padded = x8(g.node('Pad', [x8(g.input('x', [1, 3, S, S])), g.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])]));
      s = x8(g.node('SpaceToDepth', [padded], { blocksize: attr.i(2) }));
    } else {
      const padded = g.node('Pad', [g.input('x', [1, 3, S, S]), g.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])]);
      s = g.node('SpaceToDepth', [padded], { blocksize: attr.i(2) });
    }
    if (!['s2d-u8', 's2d-q8', 'u8-nchw', 'k4s2'].includes(enc)) s = qdq(s, q?.x ?? [1, 0], 'x');
    let conv = enc === 'k4s2'
      // the same phases as one 4x4 stride-2 convolution on the image: no Pad, no SpaceToDepth, the same 48 terms
      ? g.node('Conv', [s, weights(k4Weights(), [4 * C, 3, 4, 4]), biasOf(4)], { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) })
      : g.node('Conv', [s, weights(phaseKernel(w, C, 3), [4 * C, 12, 2, 2]), biasOf(4)], { kernel_shape: attr.ints([2, 2]) });
    conv = qdq(conv, q?.conv ?? [1, 0], 'c');
    let m: string;
    if (enc === 'd2s') {
      // DCR: output channel (a * 2 + b) * C + o goes to pixel (2i + a, 2j + b) of channel o
      m = pool(g.node('DepthToSpace', [conv], { blocksize: attr.i(2), mode: attr.s('DCR') }));
    } else if (['s2d-pool', 's2d-u8', 's2d-q8', 'u8-nchw', 'k4s2'].includes(enc)) {
      // the phases as a pool over a [C, H*W, 4] view of the NHWC tensor, which ORT's int8 layout runs as its
      // NHWC uint8 max pool (its transposes to and from NHWC cancel against these)
      const q8 = (t: string) => qdq(t, q?.conv ?? [1, 0], 'v');
      const nhwc = q8(g.node('Transpose', [conv], { perm: attr.ints([0, 2, 3, 1]) }));
      const view = q8(g.node('Reshape', [nhwc, g.ints('view', [1, H * H, 4, C])]));
      const nchw = q8(g.node('Transpose', [view], { perm: attr.ints([0, 3, 1, 2]) }));
      const pooled = q8(g.node('MaxPool', [nchw], { kernel_shape: attr.ints([1, 4]), strides: attr.ints([1, 4]) }));
      const back = q8(g.node('Transpose', [pooled], { perm: attr.ints([0, 2, 3, 1]) }));
      const img = q8(g.node('Reshape', [back, g.ints('img', [1, H, H, C])]));
      m = g.node('Transpose', [img], { perm: attr.ints([0, 3, 1, 2]) });
    } else if (enc === 's2d-split') {
      const parts = g.nodeN('Split', [conv], 4, { axis: attr.i(1) });
      m = g.node('Max', parts);
    } else {
      const r5 = g.node('Reshape', [conv, g.ints('shape5', [1, 4, C, H, H])]);
      m = g.node('ReduceMax', [r5], { axes: attr.ints([1]), keepdims: attr.i(0) });
    }
    if (q) m = qdq(m, q.conv, 'm');
    y = leaky(m);
  }
  if (q) y = qdq(y, q.act, 'y');
  g.output(y, 'y', [1, C, H, H]);
  return g.toModel();
}

const x = Float32Array.from({ length: 3 * S * S }, () => Math.round(r() * 255) / 255);
/** the padded input in SpaceToDepth order, as a preprocessing writing that layout would fill it */
function s2dInput(): Float32Array {
  const P = H + 1, out = new Float32Array(12 * P * P);
  for (let c = 0; c < 3; c++) for (let yy = 0; yy < S + 2; yy++) for (let xx = 0; xx < S + 2; xx++) {
    const inside = yy >= 1 && yy <= S && xx >= 1 && xx <= S;
    const v = inside ? x[(c * S + yy - 1) * S + xx - 1] : 0;
    out[(((yy & 1) * 2 + (xx & 1)) * 3 + c) * P * P + (yy >> 1) * P + (xx >> 1)] = v;
  }
  return out;
}
const xs2d = s2dInput();
const xu8 = Uint8Array.from(xs2d, (v) => Math.round(v * 255));
const feedOf = (enc: Enc) => ({
  x: enc === 's2d-in' ? new ort.Tensor('float32', xs2d, [1, 12, H + 1, H + 1])
    : enc === 's2d-u8' ? new ort.Tensor('uint8', xu8, [1, 12, H + 1, H + 1])
      : enc === 'u8-nchw' ? new ort.Tensor('uint8', Uint8Array.from(x, (v) => Math.round(v * 255)), [1, 3, S, S]) : new ort.Tensor('float32', x, [1, 3, S, S]),
});

async function session(bytes: Uint8Array, t: number, quantized: boolean) {
  return ort.InferenceSession.create(bytes, sessionOptions('cpu', { intraOpThreads: t, spinning: false, quantized }));
}

// float reference and the ranges the int8 graphs quantize with
const ref = await session(build('plain'), 1, false);
const yRef = (await ref.run(feedOf('plain'))).y.data as Float32Array;
let lo = 0, hi = 0;
for (const v of yRef) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
// the convolution's output before the activation: the activation's inverse on the negative side
const cLo = lo / alpha, qp = (l: number, h: number): [number, number] => [(h - l) / 255, Math.round(-l / ((h - l) / 255))];
const q: Q = { x: [1 / 255, 0], conv: qp(cLo, hi), act: qp(lo, hi) };
console.log(`first layer 3 -> ${C} at ${S}x${S}, 3x3 conv + LeakyRelu + 2x2/2 max pool; ORT ${ort.env.versions?.common ?? ''}; load ${load()}`);

const encs: Enc[] = (o.only?.split(',') as Enc[] | undefined) ?? ['plain', 's2d', 's2d-split', 's2d-pool', 's2d-q8', 's2d-in', 's2d-u8', 'u8-nchw', 'k4s2', 'd2s'];
// a uint8 input is an int8 graph's only
const variants = encs.flatMap((e) => [...(['s2d-u8', 's2d-q8', 'u8-nchw'].includes(e) ? [] : [{ name: `float ${e}`, enc: e, q: undefined as Q | undefined }]), { name: `int8 ${e}`, enc: e, q }]);
for (const v of variants) {
  const s = await session(build(v.enc, v.q), 1, !!v.q);
  if (process.env.OPS) {
    const f = `/tmp/first-layer-${v.name.replace(' ', '-')}.onnx`;
    const so = await ort.InferenceSession.create(build(v.enc, v.q), { ...sessionOptions('cpu', { intraOpThreads: 1, spinning: false, quantized: !!v.q }), optimizedModelFilePath: f });
    await so.release();
    console.log(`${v.name}: ${decodeModel(readFileSync(f)).graph!.node!.map((n) => n.opType).join(' ')}`);
  }
  const y = (await s.run(feedOf(v.enc))).y.data as Float32Array;
  let d = 0;
  for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i] - yRef[i]));
  console.log(`${v.name.padEnd(18)} max |y - float plain| ${d.toExponential(2)}`);
  await s.release();
}

const med = (a: number[]) => [...a].sort((p, z) => p - z)[a.length >> 1];
for (const t of threads) {
  const sessions = await Promise.all(variants.map((v) => session(build(v.enc, v.q), t, !!v.q)));
  const wall = variants.map(() => [] as number[]), cpu = variants.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const feeds = feedOf(variants[k].enc);
      for (let i = 0; i < 10; i++) await sessions[k].run(feeds);
      const c0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await sessions[k].run(feeds);
        wall[k].push(performance.now() - t0);
      }
      const c = process.cpuUsage(c0);
      cpu[k] += (c.user + c.system) / 1000;
    }
  }
  console.log(`\n${t} thread(s), ${rounds} rounds x ${runs} runs, alternating; load ${load()}`);
  variants.forEach((v, k) => console.log(`${v.name.padEnd(18)} wall p50 ${med(wall[k]).toFixed(3)} ms, CPU ${(cpu[k] / (rounds * runs)).toFixed(3)} ms per run`));
  for (const s of sessions) await s.release();
}
await ref.release();
