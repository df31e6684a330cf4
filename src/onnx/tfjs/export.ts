// tf.LayersModel (functional, sequential, nested) -> ONNX bytes.
// The graph is walked from the model outputs back through each symbolic tensor's producing node, so
// shared layers, multiple inputs/outputs and models used as layers all come out right; each layer
// class is translated by CONVERTERS (layers.ts).
import * as tf from '@tensorflow/tfjs';
import type { Dim, ElemType } from '../graph.ts';
import { ExportContext, TO_NCHW, UnsupportedLayerError, type Value } from './context.ts';
import { CONVERTERS } from './layers.ts';

export interface ExportOptions {
  /** ONNX input names, in model.inputs order (default: the tfjs input layer names). */
  inputNames?: string[];
  /** ONNX output names, in model.outputs order (default: the tfjs output layer names). */
  outputNames?: string[];
  /**
   * Which inputs are images, given to the ONNX model as NCHW. One flag for all inputs or one per
   * input; only 4-D inputs can be images. Default: every 4-D input. Non-image inputs keep tfjs order.
   */
  imageInputs?: boolean | boolean[];
  /** Whether 4-D outputs are NCHW (default) or left NHWC as in tfjs; one flag or one per output. */
  nchwOutputs?: boolean | boolean[];
  /** Batch dimension: a symbolic name (default 'N') or a fixed size. */
  batchDim?: string | number;
  /** ONNX model metadata_props. */
  metadata?: Record<string, string>;
  docString?: string;
}

export interface TensorSpec {
  name: string;
  dims: Dim[];
  dtype: ElemType;
  /** 'NCHW' for images converted from tfjs NHWC, 'NHWC' for 4-D tensors left as in tfjs, else 'plain'. */
  layout: 'NCHW' | 'NHWC' | 'plain';
}

export interface ExportResult {
  bytes: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

type ST = tf.SymbolicTensor;
type Shape = (number | null)[];

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_');

function flag(opt: boolean | boolean[] | undefined, i: number, dflt: boolean): boolean {
  if (opt === undefined) return dflt;
  if (typeof opt === 'boolean') return opt;
  return opt[i] ?? dflt;
}

function elemType(dtype: string, what: string): ElemType {
  if (dtype === 'float32') return 'float32';
  if (dtype === 'int32') return 'int32';
  throw new Error(`cannot export ${what}: dtype ${dtype} is not supported (float32 or int32)`);
}

function uniqueNames(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (!n) throw new Error(`${what} names must be non-empty`);
    if (seen.has(n)) throw new Error(`${what} name "${n}" is used twice`);
    seen.add(n);
  }
}

function convertNode(ctx: ExportContext, layer: tf.layers.Layer, inputs: Value[], node: { inputTensors: ST[]; outputTensors: ST[] }): Value[] {
  if (layer instanceof tf.LayersModel) return evalContainer(ctx, layer, inputs);
  const cls = layer.getClassName();
  if (cls === 'InputLayer') throw new UnsupportedLayerError(layer.name, cls, 'an input layer that is not among the model inputs');
  const conv = CONVERTERS[cls];
  if (!conv) throw new UnsupportedLayerError(layer.name, cls, 'no ONNX converter for this layer class');
  const outs = conv({
    ctx,
    layer,
    cls,
    config: layer.getConfig() as Record<string, unknown>,
    inputs,
    inShapes: node.inputTensors.map((t) => t.shape as Shape),
    outShapes: node.outputTensors.map((t) => t.shape as Shape),
  });
  if (outs.length !== node.outputTensors.length) {
    throw new UnsupportedLayerError(layer.name, cls, `converter produced ${outs.length} outputs for ${node.outputTensors.length}`);
  }
  return outs;
}

/** Computes a (sub)model's outputs from values for its inputs, emitting nodes as needed. */
function evalContainer(ctx: ExportContext, model: tf.LayersModel, inputValues: Value[]): Value[] {
  if (inputValues.length !== model.inputs.length) {
    throw new Error(`model ${model.name}: ${model.inputs.length} inputs expected, got ${inputValues.length}`);
  }
  const memo = new Map<ST, Value>();
  model.inputs.forEach((st, i) => memo.set(st, inputValues[i]));
  const valueOf = (st: ST): Value => {
    const hit = memo.get(st);
    if (hit) return hit;
    const layer = st.sourceLayer as tf.layers.Layer;
    const node = layer.inboundNodes[st.nodeIndex] as unknown as { inputTensors: ST[]; outputTensors: ST[] };
    const ins = node.inputTensors.map(valueOf);
    const outs = convertNode(ctx, layer, ins, node);
    node.outputTensors.forEach((t, k) => memo.set(t, outs[k]));
    return memo.get(st) ?? outs[st.tensorIndex];
  };
  return model.outputs.map(valueOf);
}

/** Exports a tfjs LayersModel; returns the ONNX bytes and the ONNX input/output signatures. */
export function exportLayersModelWithInfo(model: tf.LayersModel, opts: ExportOptions = {}): ExportResult {
  if (!(model instanceof tf.LayersModel)) throw new Error('exportLayersModel expects a tf.LayersModel (tf.model or tf.sequential)');
  const ctx = new ExportContext(sanitize(model.name) || 'model');
  const { g } = ctx;
  const batch: Dim = opts.batchDim ?? 'N';

  const inNames = opts.inputNames ?? model.inputs.map((st) => sanitize(st.sourceLayer.name));
  if (inNames.length !== model.inputs.length) throw new Error(`inputNames has ${inNames.length} names for ${model.inputs.length} model inputs`);
  uniqueNames(inNames, 'input');
  const outNames = opts.outputNames ?? (() => {
    // tfjs output names are layer names; a layer can feed two outputs, so suffix repeats
    const seen = new Map<string, number>();
    return model.outputs.map((st) => st.sourceLayer.name).map((n) => {
      const k = seen.get(n) ?? 0;
      seen.set(n, k + 1);
      return sanitize(k ? `${n}_${k}` : n);
    });
  })();
  if (outNames.length !== model.outputs.length) throw new Error(`outputNames has ${outNames.length} names for ${model.outputs.length} model outputs`);
  uniqueNames(outNames, 'output');
  const clash = outNames.find((n) => inNames.includes(n));
  if (clash) throw new Error(`"${clash}" is used as both an input and an output name`);

  const symbolic = (name: string) => (d: number | null, axis: number): Dim => (axis === 0 ? batch : d ?? `${name}_d${axis}`);

  const inputs: TensorSpec[] = [];
  const inputValues = model.inputs.map((st, i) => {
    const shape = st.shape as Shape;
    const dtype = elemType(st.dtype, `input ${inNames[i]}`);
    const image = shape.length === 4 && flag(opts.imageInputs, i, true);
    if (flag(opts.imageInputs, i, false) && shape.length !== 4) {
      throw new Error(`input ${inNames[i]} has rank ${shape.length}; only 4-D inputs can be NCHW images`);
    }
    const tfDims = shape.map(symbolic(inNames[i]));
    const dims = image ? TO_NCHW.map((a) => tfDims[a]) : tfDims;
    const name = g.input(inNames[i], dims, dtype);
    inputs.push({ name, dims, dtype, layout: image ? 'NCHW' : shape.length === 4 ? 'NHWC' : 'plain' });
    return { name, shape, dtype, layout: image ? 'nchw' : 'native' } satisfies Value;
  });

  const results = evalContainer(ctx, model, inputValues);

  const outputs: TensorSpec[] = results.map((v, i) => {
    const st = model.outputs[i];
    const shape = st.shape as Shape;
    const nchw = shape.length === 4 && flag(opts.nchwOutputs, i, true);
    const fv = shape.length === 4 ? (nchw ? ctx.asNchw(v) : ctx.asNative(v)) : v;
    const tfDims = shape.map(symbolic(outNames[i]));
    const dims = nchw ? TO_NCHW.map((a) => tfDims[a]) : tfDims;
    const name = g.output(fv.name, outNames[i], dims, fv.dtype);
    return { name, dims, dtype: fv.dtype, layout: nchw ? 'NCHW' : shape.length === 4 ? 'NHWC' : 'plain' };
  });

  const bytes = g.toModel({ producer: 'pinhole-tfjs-export', docString: opts.docString, metadata: opts.metadata });
  return { bytes, inputs, outputs };
}

/** Exports a tfjs LayersModel (functional or sequential) to ONNX model bytes. */
export function exportLayersModel(model: tf.LayersModel, opts: ExportOptions = {}): Uint8Array {
  return exportLayersModelWithInfo(model, opts).bytes;
}
