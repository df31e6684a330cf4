// Model folders built on the fly for the runtime tests and bench: real ONNX graphs (GraphBuilder) with
// seeded random weights and manifests that pass validateManifest. Not a test file itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, attr } from '../src/onnx/graph.ts';
import type { YoloV2Manifest } from '../src/manifest.ts';
import { rng, uniform } from './helpers/random.ts';

// server-e2e draws its own weights from the same generator
export { rng };

function conv(g: GraphBuilder, x: string, cin: number, cout: number, k: number, r: () => number, leaky = true): string {
  const w = g.initializer('w', uniform(cout * cin * k * k, r, Math.sqrt(3 / (cin * k * k))), [cout, cin, k, k]);
  const b = g.initializer('b', uniform(cout, r, 0.1), [cout]);
  const p = (k - 1) / 2;
  const c = g.node('Conv', [x, w, b], { kernel_shape: attr.ints([k, k]), pads: attr.ints([p, p, p, p]) });
  return leaky ? g.node('LeakyRelu', [c], { alpha: attr.f(0.1) }) : c;
}

export interface RegionNetOptions {
  size?: number;
  classes?: number;
  num?: number;
  seed?: number;
}

/**
 * A tiny region-layer net: input [N,3,S,S] -> two stride-2 pools... -> [N, num*(5+C), S/8, S/8].
 * Cheap enough that tests run in milliseconds per batch.
 */
export function tinyRegionNet(o: RegionNetOptions = {}): Uint8Array {
  const size = o.size ?? 64, C = o.classes ?? 3, num = o.num ?? 2;
  const r = rng(o.seed ?? 1);
  const g = new GraphBuilder('tiny-region');
  let x = g.input('image', ['N', 3, size, size]);
  let cin = 3;
  for (const cout of [8, 16, 16]) {
    x = conv(g, x, cin, cout, 3, r);
    x = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
    cin = cout;
  }
  x = conv(g, x, cin, num * (5 + C), 1, r, false);
  g.output(x, 'region', ['N', num * (5 + C), size / 8, size / 8]);
  return g.toModel();
}

/** yolov2-tiny-voc's layer shapes (416 input, 13x13x125 output) with random weights, BN folded. */
export function tinyVocNet(size = 416, seed = 7): Uint8Array {
  const r = rng(seed);
  const g = new GraphBuilder('tiny-voc');
  let x = g.input('image', ['N', 3, size, size]);
  let cin = 3;
  const filters = [16, 32, 64, 128, 256, 512];
  filters.forEach((cout, i) => {
    x = conv(g, x, cin, cout, 3, r);
    if (i < 5) {
      x = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
    } else {
      // darknet's size-2 stride-1 maxpool keeps 13x13: pad right/bottom.
      x = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 1, 1]) });
    }
    cin = cout;
  });
  x = conv(g, x, cin, 1024, 3, r);
  x = conv(g, x, 1024, 1024, 3, r);
  x = conv(g, x, 1024, 125, 1, r, false);
  g.output(x, 'region', ['N', 125, size / 32, size / 32]);
  return g.toModel();
}

export function regionManifest(name: string, size: number, classes: number, num: number,
  extra: Partial<YoloV2Manifest> = {}): YoloV2Manifest {
  return {
    name,
    kind: 'yolov2',
    input: { width: size, height: size, channels: 3, layout: 'NCHW' },
    preprocess: 'letterbox',
    names: Array.from({ length: classes }, (_, i) => `class${i}`),
    source: 'pinhole-train',
    num,
    anchors: Array.from({ length: 2 * num }, (_, i) => 1 + i * 0.5),
    coords: 4,
    softmax: true,
    ...extra,
  };
}

/** Writes models/NAME/{model.onnx,model.json}; either part may be given as raw text/bytes to break it. */
export function writeModel(root: string, name: string, onnx: Uint8Array | string | null, manifest: object | string | null): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  if (onnx !== null) writeFileSync(join(dir, 'model.onnx'), onnx);
  if (manifest !== null) writeFileSync(join(dir, 'model.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
  return dir;
}

/** A tiny region model folder ready to serve. */
export function writeTinyModel(root: string, name: string, o: RegionNetOptions & { manifest?: Partial<YoloV2Manifest> } = {}): string {
  const size = o.size ?? 64, C = o.classes ?? 3, num = o.num ?? 2;
  return writeModel(root, name, tinyRegionNet({ ...o, size, classes: C, num }), regionManifest(name, size, C, num, o.manifest));
}

/** A toy generator: z [N, 8] -> tanh(z W) as [N, 3, 4, 4], for non-detector model kinds. */
export function tinyGeneratorNet(seed = 11): Uint8Array {
  const r = rng(seed);
  const g = new GraphBuilder('tiny-gen');
  const z = g.input('z', ['N', 8]);
  const w = g.initializer('w', uniform(8 * 48, r, 0.5), [8, 48]);
  const t = g.node('Tanh', [g.node('MatMul', [z, w])]);
  g.output(g.node('Reshape', [t, g.ints('shape', [-1, 3, 4, 4])]), 'image', ['N', 3, 4, 4]);
  return g.toModel();
}

export function generatorManifest(name: string): object {
  return {
    name, kind: 'wgan', input: { width: 4, height: 4, channels: 3, layout: 'NCHW' }, preprocess: 'resize', names: [],
    source: 'pinhole-train', inputs: { noise: 'z' }, zDim: 8, output: 'image',
  };
}
