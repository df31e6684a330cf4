// Darknet cfg + weights -> model folder (model.onnx + model.json). Everything is converted and checked in
// memory first; the folder is written under a temporary name beside --out and renamed into place only
// when complete, so a failure never leaves a partial model folder for the server to trip over.
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  validateManifest, type Manifest, type Yolo9000Manifest, type YoloV1Manifest, type YoloV2Manifest,
} from '../../manifest.ts';
import { checkModel } from '../check.ts';
import { writeModelFolder } from '../write-folder.ts';
import { readCfg, type DarknetNet } from './cfg.ts';
import { DarknetError, ioError } from './errors.ts';
import { darknetToOnnx, INPUT_NAME, OUTPUT_NAME } from './import.ts';
import { genericNames, readNames, readTree } from './labels.ts';
import { readWeights } from './weights.ts';

export interface DarknetImportOptions {
  cfg: string;
  weights: string;
  out: string;
  /** darknet .names file, one class per line */
  names?: string;
  /** 9k.tree-format file; defaults to the region layer's own `tree=` path when that file exists */
  tree?: string;
  /** model name in model.json; defaults to the output folder's name */
  name?: string;
  /** load the graph in onnxruntime before writing (default true) */
  check?: boolean;
}

export interface DarknetImportResult {
  dir: string;
  manifest: Manifest;
  onnxBytes: number;
  /** wall-clock seconds per stage */
  seconds: { parse: number; weights: number; convert: number; check: number; write: number; total: number };
}

const NMS_REGION = 0.45; // `detector test`
const NMS_DETECTION = 0.4; // `yolo test`

function treePath(net: DarknetNet, cfgTree: string, given?: string): string {
  if (given) return given;
  const p = isAbsolute(cfgTree) ? cfgTree : resolve(dirname(net.file), cfgTree);
  if (!existsSync(p)) {
    throw new DarknetError(`the [region] layer uses tree=${cfgTree}, which does not exist here; pass --tree FILE`);
  }
  return p;
}

/** Builds the model folder's content in memory. */
export async function convertDarknet(o: Omit<DarknetImportOptions, 'out'> & { name: string }) {
  const t0 = performance.now();
  const net = readCfg(o.cfg);
  const head = net.layers[net.layers.length - 1];
  if (head.type !== 'region' && head.type !== 'detection') {
    throw new DarknetError(`${net.file}:${head.line}: the last layer is [${head.type}]; a detector must end in [region] or [detection]`);
  }
  if (head.coords !== 4) {
    throw new DarknetError(`${net.file}:${head.line}: [${head.type}] coords=${head.coords}: only coords=4 can be decoded`);
  }
  const names = o.names ? readNames(o.names, head.classes) : genericNames(head.classes);
  const tree = head.type === 'region' && head.tree ? readTree(treePath(net, head.tree, o.tree), head.classes) : undefined;
  if (o.tree && !tree) throw new DarknetError(`--tree given, but ${net.file} has no [region] layer with tree=`);
  const t1 = performance.now();
  const weights = readWeights(o.weights, net);
  const t2 = performance.now();
  const onnx = darknetToOnnx(net, weights);
  const t3 = performance.now();
  if (o.check !== false) {
    try {
      await checkModel(onnx.bytes);
    } catch (e) {
      throw new DarknetError(`the generated graph does not load in onnxruntime: ${(e as Error).message}`);
    }
  }
  const t4 = performance.now();

  const input = { width: net.width, height: net.height, channels: net.channels, layout: 'NCHW' as const };
  const common = {
    name: o.name,
    input,
    names,
    source: 'darknet' as const,
    onnx: { input: INPUT_NAME, outputs: [OUTPUT_NAME] },
    description: `imported from darknet ${basename(o.cfg)} + ${basename(o.weights)}; output = raw input of the [${head.type}] layer`,
  };
  let manifest: YoloV1Manifest | YoloV2Manifest | Yolo9000Manifest;
  if (head.type === 'detection') {
    manifest = {
      ...common, kind: 'yolov1', preprocess: 'resize',
      side: head.side, num: head.num, sqrt: head.sqrt, softmax: head.softmax, nms: NMS_DETECTION,
    };
  } else {
    const region = {
      ...common, preprocess: 'letterbox' as const,
      num: head.num, anchors: head.anchors, coords: head.coords, softmax: head.softmax, background: head.background,
      nms: NMS_REGION,
    };
    manifest = tree ? { ...region, kind: 'yolo9000', tree } : { ...region, kind: 'yolov2' };
  }
  validateManifest(JSON.parse(JSON.stringify(manifest)));
  return { onnx, manifest, times: { parse: t1 - t0, weights: t2 - t1, convert: t3 - t2, check: t4 - t3 } };
}

export async function importDarknet(o: DarknetImportOptions): Promise<DarknetImportResult> {
  const t0 = performance.now();
  const out = resolve(o.out);
  if (existsSync(out)) throw new DarknetError(`output folder ${o.out} already exists; remove it or choose another --out`);
  const name = o.name ?? basename(out);
  if (!name) throw new DarknetError('model name is empty');
  const { onnx, manifest, times } = await convertDarknet({ ...o, name });

  const t1 = performance.now();
  try {
    writeModelFolder(out, onnx.bytes, manifest);
  } catch (e) {
    throw ioError('write', o.out, e);
  }
  const t2 = performance.now();
  const s = (ms: number) => Math.round(ms) / 1000;
  return {
    dir: out,
    manifest,
    onnxBytes: onnx.bytes.byteLength,
    seconds: {
      parse: s(times.parse), weights: s(times.weights), convert: s(times.convert), check: s(times.check),
      write: s(t2 - t1), total: s(t2 - t0),
    },
  };
}
