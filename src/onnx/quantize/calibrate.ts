// Activation ranges measured on calibration inputs: the graph is run in ONNX Runtime with every tensor
// to be quantized added as an output; pass 1 finds each tensor's min and max, pass 2 (percentile and
// entropy) fills a histogram and clips the rare tails: percentile at a fixed share of the values, entropy
// where the int8 version of the clipped distribution loses least information (KL divergence, TensorRT's
// method, on |x| because a per-tensor range is one threshold per side).
import ort from 'onnxruntime-node';
import type p from 'onnx-proto';
import { onnx } from '../graph.ts';
import type { Graph } from './tensors.ts';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

export interface Range {
  min: number;
  max: number;
}

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** percentile kept at each end, e.g. 99.99 keeps all but the lowest and highest .01% of the values */
  percentile?: number;
  /** tensors always calibrated min-max (e.g. the image input, whose pixels k/255 a 1/255 step holds exactly) */
  exact?: ReadonlySet<string>;
}

const BINS = 2048;

/** Model bytes whose outputs are exactly `tensors` (intermediate ones included), for calibration runs. */
function probeModel(model: p.onnx.ModelProto, tensors: readonly string[]): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = copy.graph as Graph;
  g.output = tensors.map((name) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } })) as typeof g.output;
  return onnx.ModelProto.encode(copy).finish();
}

interface Stat {
  min: number;
  max: number;
  hist?: Float64Array;
}

/**
 * Runs `inputs` (each one preprocessed CHW image, as the runtime feeds it) through the model and returns
 * the calibrated range of each tensor in `tensors`.
 */
export async function calibrateRanges(model: p.onnx.ModelProto, inputName: string, inputDims: number[],
  tensors: readonly string[], inputs: readonly Float32Array[], o: CalibrationOptions): Promise<Map<string, Range>> {
  if (inputs.length === 0) throw new Error('calibration needs at least one image');
  // plain CPU, no graph rewrites: every probed tensor must exist as the graph defines it
  const session = await ort.InferenceSession.create(probeModel(model, tensors), { graphOptimizationLevel: 'disabled' });
  const stats = new Map<string, Stat>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const forEachOutput = async (visit: (name: string, data: Float32Array) => void) => {
    for (const x of inputs) {
      const out = await session.run({ [inputName]: new ort.Tensor('float32', x, [1, ...inputDims]) });
      for (const name of tensors) visit(name, out[name].data as Float32Array);
      for (const t of Object.values(out)) t.dispose();
    }
  };
  try {
    await forEachOutput((name, d) => {
      const s = stats.get(name)!;
      let lo = s.min, hi = s.max;
      for (let i = 0; i < d.length; i++) {
        const v = d[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      s.min = lo;
      s.max = hi;
    });
    if (o.method !== 'minmax') {
      for (const [name, s] of stats) if (!o.exact?.has(name) && s.max > s.min) s.hist = new Float64Array(BINS);
      const entropy = o.method === 'entropy';
      await forEachOutput((name, d) => {
        const s = stats.get(name)!;
        if (!s.hist) return;
        const h = s.hist;
        if (entropy) {
          const k = BINS / Math.max(-s.min, s.max);
          for (let i = 0; i < d.length; i++) h[Math.min(BINS - 1, Math.floor(Math.abs(d[i]) * k))]++;
        } else {
          const k = BINS / (s.max - s.min);
          for (let i = 0; i < d.length; i++) h[Math.min(BINS - 1, Math.floor((d[i] - s.min) * k))]++;
        }
      });
    }
  } finally {
    await session.release();
  }
  const p = o.percentile ?? 99.99;
  const out = new Map<string, Range>();
  for (const [name, s] of stats) {
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max)) throw new Error(`calibration: tensor ${name} holds non-finite values`);
    if (!s.hist) out.set(name, { min: s.min, max: s.max });
    else if (o.method === 'entropy') {
      const t = klThreshold(s.hist) * Math.max(-s.min, s.max);
      out.set(name, { min: Math.max(s.min, -t), max: Math.min(s.max, t) });
    } else out.set(name, percentileRange(s, p));
  }
  return out;
}

/** The range between the (100-p)th and the p-th percentile, read from the histogram at bin edges. */
function percentileRange(s: Stat, p: number): Range {
  const h = s.hist!;
  const total = h.reduce((a, b) => a + b, 0);
  const tail = total * (1 - p / 100);
  const width = (s.max - s.min) / BINS;
  let lo = 0, acc = 0;
  while (lo < BINS - 1 && acc + h[lo] <= tail) acc += h[lo++];
  let hi = BINS - 1;
  acc = 0;
  while (hi > lo && acc + h[hi] <= tail) acc += h[hi--];
  return { min: s.min + lo * width, max: s.min + (hi + 1) * width };
}

/** ORT's smoothing: a little mass moved to the empty bins so that KL(P || Q) stays finite. */
function smooth(h: Float64Array, eps = 1e-4): Float64Array {
  let zeros = 0;
  for (const v of h) if (v === 0) zeros++;
  const nonzero = h.length - zeros;
  if (nonzero === 0) return h;
  const take = (eps * zeros) / nonzero;
  return h.map((v) => (v === 0 ? eps : v - take));
}

const QUANT_BINS = 128;

/**
 * TensorRT's entropy calibration on a histogram of |x| over [0, max|x|]: the clipping threshold (as a
 * fraction of max|x|) whose 128-level quantized distribution is closest to the clipped one in KL divergence.
 */
export function klThreshold(hist: Float64Array): number {
  const n = hist.length;
  let best = n, bestKl = Infinity;
  for (let i = QUANT_BINS; i <= n; i++) {
    // reference: the first i bins, everything beyond clipped into the last one
    const p = hist.slice(0, i);
    for (let j = i; j < n; j++) p[i - 1] += hist[j];
    // candidate: the first i bins merged into 128 levels, each level spread back over its non-empty bins
    const q = new Float64Array(i);
    const per = i / QUANT_BINS;
    for (let b = 0; b < QUANT_BINS; b++) {
      const lo = Math.floor(b * per), hi = b === QUANT_BINS - 1 ? i : Math.floor((b + 1) * per);
      let sum = 0, nz = 0;
      for (let j = lo; j < hi; j++) { sum += hist[j]; if (hist[j] > 0) nz++; }
      if (nz) for (let j = lo; j < hi; j++) if (hist[j] > 0) q[j] = sum / nz;
    }
    const ps = smooth(p), qs = smooth(q);
    const sp = ps.reduce((a, b) => a + b, 0), sq = qs.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) if (ps[j] > 0) kl += (ps[j] / sp) * Math.log((ps[j] / sp) / (qs[j] / sq));
    if (kl < bestKl) { bestKl = kl; best = i; }
  }
  return Math.min(1, (best + 0.5) / n);
}

