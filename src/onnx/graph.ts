// Typed ONNX graph builder on onnx-proto (protobufjs). Every exporter and importer in Pinhole
// builds its graphs through this module so that naming, initializer encoding and opset live in one place.
import p from 'onnx-proto';

const { onnx } = p;
export { onnx };

export const OPSET = 17;
// onnx-proto's schema stops at IR 8, which is the IR version of opsets 15-18.
const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';
export type TypedData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
export type Dim = number | string;

const DTYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

function elemTypeOf(data: TypedData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

/** Attribute values are tagged so that `1` as a float and `1` as an int cannot be confused. */
export type Attr =
  | { kind: 'i'; v: number }
  | { kind: 'f'; v: number }
  | { kind: 's'; v: string }
  | { kind: 'ints'; v: number[] }
  | { kind: 'floats'; v: number[] }
  | { kind: 't'; v: { data: TypedData; dims: number[] } };

export const attr = {
  i: (v: number): Attr => ({ kind: 'i', v }),
  f: (v: number): Attr => ({ kind: 'f', v }),
  s: (v: string): Attr => ({ kind: 's', v }),
  ints: (v: number[]): Attr => ({ kind: 'ints', v }),
  floats: (v: number[]): Attr => ({ kind: 'floats', v }),
  t: (data: TypedData, dims: number[]): Attr => ({ kind: 't', v: { data, dims } }),
};

/** An initializer / constant tensor; the element type follows the typed array. */
export function tensorProto(name: string, data: TypedData, dims: number[]): p.onnx.ITensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) {
    throw new Error(`initializer ${name}: ${data.length} values do not fill dims [${dims.join(',')}]`);
  }
  // raw_data is little-endian; so is every platform Node runs on, so the typed array's bytes go as they are.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims, dataType: DTYPE[elemTypeOf(data)], rawData: raw };
}

function attributeProto(name: string, a: Attr): p.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'i': return { name, type: T.INT, i: a.v };
    case 'f': return { name, type: T.FLOAT, f: a.v };
    case 's': return { name, type: T.STRING, s: new TextEncoder().encode(a.v) };
    case 'ints': return { name, type: T.INTS, ints: a.v };
    case 'floats': return { name, type: T.FLOATS, floats: a.v };
    case 't': return { name, type: T.TENSOR, t: tensorProto(name, a.v.data, a.v.dims) };
  }
}

export function valueInfo(name: string, type: ElemType, dims: Dim[]): p.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface ModelOptions {
  producer?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export class GraphBuilder {
  private readonly nodes: p.onnx.INodeProto[] = [];
  private readonly inits: p.onnx.ITensorProto[] = [];
  private readonly inputs: p.onnx.IValueInfoProto[] = [];
  private readonly outputs: p.onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name = 'pinhole') {}

  /** A fresh tensor name, unique in this graph. */
  fresh(hint: string): string {
    let n = hint.replace(/[^A-Za-z0-9_./-]/g, '_');
    while (this.names.has(n)) n = `${hint}_${++this.counter}`;
    this.names.add(n);
    return n;
  }

  input(name: string, dims: Dim[], type: ElemType = 'float32'): string {
    const n = this.fresh(name);
    if (n !== name) throw new Error(`graph input name ${name} already used`);
    this.inputs.push(valueInfo(n, type, dims));
    return n;
  }

  /** Marks an existing tensor as a graph output; renames it with an Identity if the name differs. */
  output(tensor: string, name: string, dims: Dim[], type: ElemType = 'float32'): string {
    let out = tensor;
    if (tensor !== name) {
      if (this.names.has(name)) throw new Error(`graph output name ${name} already used`);
      this.names.add(name);
      this.nodes.push({ opType: 'Identity', input: [tensor], output: [name], name: `${name}_identity` });
      out = name;
    }
    this.outputs.push(valueInfo(out, type, dims));
    return out;
  }

  initializer(hint: string, data: TypedData, dims: number[]): string {
    const n = this.fresh(hint);
    this.inits.push(tensorProto(n, data, dims));
    return n;
  }

  /** int64 constant as an initializer, e.g. shapes for Reshape. */
  ints(hint: string, values: number[]): string {
    return this.initializer(hint, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  scalar(hint: string, value: number): string {
    return this.initializer(hint, Float32Array.of(value), []);
  }

  /** Adds a node with one output and returns the output's name. */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.nodeN(op, inputs, 1, attrs, hint)[0];
  }

  nodeN(op: string, inputs: string[], nOut: number, attrs: Record<string, Attr> = {}, hint?: string): string[] {
    const base = hint ?? op.toLowerCase();
    const outs = Array.from({ length: nOut }, (_, k) => this.fresh(nOut === 1 ? base : `${base}_${k}`));
    this.nodes.push({
      opType: op,
      input: inputs,
      output: outs,
      name: this.fresh(`${base}_node`),
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return outs;
  }

  toModel(opts: ModelOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: opts.producer ?? 'pinhole',
      producerVersion: '0.1.0',
      docString: opts.docString,
      opsetImport: [{ domain: '', version: OPSET }],
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Decodes model bytes back into a ModelProto (for inspection and tests). */
export function decodeModel(bytes: Uint8Array): p.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
