// Reading and indexing a decoded ONNX graph for the quantizer: float initializers as typed arrays,
// producers and consumers of each tensor.
import type p from 'onnx-proto';
import { onnx } from '../graph.ts';

export type Graph = p.onnx.IGraphProto;
export type Node = p.onnx.INodeProto;
export type Tensor = p.onnx.ITensorProto;

/** A float32 initializer's values, whether the exporter wrote raw_data or float_data. */
export function floatsOf(t: Tensor): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`initializer ${t.name} is not float32 (type ${t.dataType})`);
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    // copy: raw_data may sit at an offset that is not a multiple of 4 inside the decoded buffer
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(t.floatData ?? []);
}

export const dimsOf = (t: Tensor): number[] => (t.dims ?? []).map(Number);

export function intAttr(n: Node, name: string, dflt: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : dflt;
}

/** A list attribute's values, or undefined when it is absent or empty. */
export function intsAttr(n: Node, name: string): number[] | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.ints?.length ? a.ints.map(Number) : undefined;
}

/** A string attribute, or undefined when it is absent. */
export function strAttr(n: Node, name: string): string | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

export function floatAttr(n: Node, name: string, dflt: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a ? Number(a.f) : dflt;
}

export interface GraphIndex {
  inits: Map<string, Tensor>;
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  outputs: Set<string>;
}

export function indexGraph(g: Graph): GraphIndex {
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      if (!list.includes(n)) list.push(n);
      consumers.set(i, list);
    }
  }
  return { inits, producer, consumers, outputs: new Set((g.output ?? []).map((o) => o.name!)) };
}

/** Names for new tensors and nodes: the hint itself if it is not in `used`, else hint_1, hint_2, ...; each one given is added to `used`. */
export function namer(used: Set<string>): (hint: string) => string {
  return (hint) => {
    let n = hint, k = 0;
    while (used.has(n)) n = `${hint}_${++k}`;
    used.add(n);
    return n;
  };
}

/** Initializers no node reads any more (e.g. BatchNorm parameters after folding) are dropped. */
export function dropUnusedInitializers(g: Graph): void {
  const used = new Set((g.node ?? []).flatMap((n) => n.input ?? []));
  g.initializer = (g.initializer ?? []).filter((t) => used.has(t.name!));
}
