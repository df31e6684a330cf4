// Export state shared by the layer converters: the graph being built, the tensors produced so far and
// their layout, and cached weights / layout conversions.
//
// Layout rule: tfjs is NHWC, ONNX image ops are NCHW. Every 4-D tensor that feeds image ops lives in
// the ONNX graph as NCHW ('nchw' layout); everything else keeps the tfjs axis order ('native').
// A tensor is transposed only where an op needs the other layout (Flatten, Reshape, Dense on rank 3,
// ...), and each conversion is emitted at most once per tensor.
import type * as tfTypes from '@tensorflow/tfjs';
import { GraphBuilder, type Attr, type Dim, type ElemType, type ModelOptions, type TypedData } from '../graph.ts';

export type Layout = 'nchw' | 'native';

export interface Value {
  /** ONNX tensor name */
  name: string;
  /** logical tfjs shape, batch first (null = unknown); for 'nchw' values the ONNX tensor is this shape permuted [0,3,1,2] */
  shape: (number | null)[];
  layout: Layout;
  dtype: ElemType;
}

/** Permutations between tfjs NHWC order and ONNX NCHW order. */
export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

/** A layer or config the exporter cannot translate: names the layer and its class. */
export class UnsupportedLayerError extends Error {
  constructor(readonly layerName: string, readonly className: string, detail: string) {
    super(`cannot export layer "${layerName}" (${className}) to ONNX: ${detail}`);
    this.name = 'UnsupportedLayerError';
  }
}

/**
 * GraphBuilder whose internal tensor names live under prefixes containing '/', so that they can never
 * take a name the caller wants for a graph output (default output names are sanitized to [A-Za-z0-9_]).
 */
export class ScopedBuilder {
  constructor(private readonly b: GraphBuilder) {}
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.b.node(op, inputs, attrs, `t/${hint ?? op.toLowerCase()}`);
  }
  ints(hint: string, values: number[]): string {
    return this.b.ints(`c/${hint}`, values);
  }
  scalar(hint: string, value: number): string {
    return this.b.scalar(`c/${hint}`, value);
  }
  initializer(hint: string, data: TypedData, dims: number[]): string {
    return this.b.initializer(`w/${hint}`, data, dims);
  }
  input(name: string, dims: Dim[], type?: ElemType): string {
    return this.b.input(name, dims, type);
  }
  output(tensor: string, name: string, dims: Dim[], type?: ElemType): string {
    return this.b.output(tensor, name, dims, type);
  }
  toModel(opts?: ModelOptions): Uint8Array {
    return this.b.toModel(opts);
  }
}

export class ExportContext {
  readonly g: ScopedBuilder;
  private readonly converted = new Map<string, Value>();
  private readonly weightCache = new Map<string, string>();

  constructor(graphName: string) {
    this.g = new ScopedBuilder(new GraphBuilder(graphName));
  }

  /** The value in NCHW layout (4-D only). */
  asNchw(v: Value): Value {
    if (v.layout === 'nchw') return v;
    if (v.shape.length !== 4) throw new Error(`internal: ${v.name} has rank ${v.shape.length}, cannot be NCHW`);
    return this.convert(v, 'nchw', TO_NCHW);
  }

  /** The value in tfjs axis order. */
  asNative(v: Value): Value {
    if (v.layout === 'native') return v;
    return this.convert(v, 'native', TO_NHWC);
  }

  private convert(v: Value, layout: Layout, perm: number[]): Value {
    const key = `${v.name}->${layout}`;
    let out = this.converted.get(key);
    if (!out) {
      const name = this.g.node('Transpose', [v.name], { perm: { kind: 'ints', v: perm } }, `${v.name}_${layout}`);
      out = { ...v, name, layout };
      this.converted.set(key, out);
      // converting back returns the original tensor instead of a second transpose
      this.converted.set(`${name}->${v.layout}`, v);
    }
    return out;
  }

  /** ONNX axis of a tfjs axis (negative allowed) for a value in its current layout. */
  onnxAxis(v: Value, tfAxis: number): number {
    const rank = v.shape.length;
    const a = tfAxis < 0 ? tfAxis + rank : tfAxis;
    if (a < 0 || a >= rank) throw new Error(`axis ${tfAxis} out of range for rank ${rank}`);
    return v.layout === 'nchw' ? TO_NHWC[a] : a;
  }

  /** A float initializer, created once per key (shared layers reuse their weights). */
  weight(key: string, make: () => { data: Float32Array; dims: number[] }): string {
    let name = this.weightCache.get(key);
    if (!name) {
      const { data, dims } = make();
      name = this.g.initializer(key, data, dims);
      this.weightCache.set(key, name);
    }
    return name;
  }
}

/** Named weights of a layer: the last path component of each variable name (kernel, bias, gamma, ...). */
export function layerWeights(layer: tfTypes.layers.Layer): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const base = (w.originalName ?? w.name).split('/').pop()!.replace(/_\d+$/, '');
    const t = w.read();
    out.set(base, { data: Float32Array.from(t.dataSync() as Float32Array), shape: [...t.shape] });
  }
  return out;
}

/** Transposes a dense row-major array of `shape` by `perm` (for weights, done once at export time). */
export function permuteArray(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; dims: number[] } {
  const rank = shape.length;
  const dims = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const stridesByOut = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k] * stridesByOut[k];
    out[o] = data[src];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { data: out, dims };
}
