// `pinhole quantize MODEL_DIR --calib SPEC --out DIR`: a detector folder to a static int8 (QDQ) folder.
// Calibration images go through the runtime's own preprocessing (decode, the model's pixel layout), so the
// ranges are those of the tensors the server will feed; the new folder is then scored by `pinhole eval`
// on the same held-out set as its float source and the figures land in its model.json.
import { cp, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { validateManifest, type Manifest } from '../manifest.ts';
import { checkModel } from '../onnx/check.ts';
import { CALIBRATION_METHODS, quantizeModel, type ActivationType, type CalibrationMethod } from '../onnx/quantize/index.ts';
import { readManifest } from '../runtime/folder.ts';
import { pixelLayout, preprocess } from '../runtime/preprocess.ts';
import { runPinholeEval, writeMetrics } from '../train/engine/evaluate.ts';
import { isDir, listImages } from '../train/data/files.ts';
import { encodePng } from '../train/data/image.ts';
import { DataSpecError, detectFormat, openDataset, parseDataSpec } from '../train/data/open.ts';
import { intOption, numberOption, UsageError } from './errors.ts';

interface QuantizeCliOptions {
  calib: string;
  out: string;
  limit?: number;
  method: CalibrationMethod;
  percentile: number;
  activations: ActivationType;
  keepFloat: string;
  spaceToDepth: boolean;
  val?: string;
  eval: boolean;
}

const DETECTORS = new Set(['yolov1', 'yolov2', 'yolo9000']);

/** Encoded calibration images: any --data spec, or a plain folder of images (no labels needed). */
async function calibrationFiles(spec: string, limit: number | undefined): Promise<{ count: number; file: (i: number) => Promise<Uint8Array> }> {
  let s;
  try {
    s = parseDataSpec(spec);
  } catch (e) {
    if (e instanceof DataSpecError) throw new UsageError(`--calib: ${e.message}`);
    throw e;
  }
  if (s.kind === 'path' && (await isDir(s.path)) && !(await detectFormat(s.path))) {
    const files = await listImages(s.path);
    if (files.length === 0) throw new UsageError(`--calib: no images in ${s.path}`);
    return { count: Math.min(files.length, limit ?? files.length), file: (i) => readFile(files[i]) };
  }
  let ds;
  try {
    ds = await openDataset(spec);
  } catch (e) {
    if (e instanceof DataSpecError) throw new UsageError(`--calib: ${e.message}`);
    throw e;
  }
  const file = ds.file ? ds.file.bind(ds) : async (i: number) => { const x = await ds.get(i); return encodePng(x.rgb, x.width, x.height); };
  return { count: Math.min(ds.size, limit ?? ds.size), file };
}

function keepFloatOption(raw: string): string {
  if (raw.split(',').some((s) => s.trim() === '')) throw new UsageError(`--keep-float must be none or a comma list of first, last and node names, got "${raw}"`);
  return raw;
}

/** Writes DIR whole: staged beside it, then renamed into place (an old model folder there is replaced). */
async function writeFolder(out: string, files: Record<string, Uint8Array | string>, copyFrom: Array<[string, string]>): Promise<string> {
  const target = path.resolve(out);
  const old = await stat(target).then((st) => st, () => undefined);
  if (old && !(await stat(path.join(target, 'model.json')).then(() => true, () => false))) {
    throw new Error(`${out} exists and is not a model folder: refusing to replace it`);
  }
  const tmp = await mkdtemp(`${target}.tmp-`);
  try {
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(tmp, name), data);
    for (const [from, name] of copyFrom) await cp(from, path.join(tmp, name));
    if (old) await rm(target, { recursive: true });
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return target;
}

async function run(modelDir: string, o: QuantizeCliOptions): Promise<void> {
  const src = path.resolve(modelDir);
  if (!(await isDir(src))) throw new Error(`no model folder at ${modelDir}`);
  if (o.val) try { parseDataSpec(o.val); } catch (e) { if (e instanceof DataSpecError) throw new UsageError(`--val: ${e.message}`); throw e; }
  if (path.resolve(o.out) === src) throw new UsageError('--out must be a new folder, not the float model itself');
  const manifest = await readManifest(src);
  if (!DETECTORS.has(manifest.kind)) throw new UsageError(`${modelDir} is a ${manifest.kind} model; quantize takes detectors (yolov1, yolov2, yolo9000)`);
  if ((manifest as { precision?: string }).precision === 'int8') throw new UsageError(`${modelDir} is already int8`);
  const calib = await calibrationFiles(o.calib, o.limit);
  const log = (l: string) => process.stdout.write(l + '\n');
  const t0 = performance.now();
  const images: Float32Array[] = [];
  for (let i = 0; i < calib.count; i++) images.push((await preprocess(await calib.file(i), manifest.input, pixelLayout(manifest))).data);
  const input = manifest.onnx?.input ?? 'image';
  const keepFloat = o.keepFloat === 'none' ? [] : o.keepFloat.split(',').map((s) => s.trim());
  const q = await quantizeModel(await readFile(path.join(src, 'model.onnx')), {
    input, inputDims: [manifest.input.channels, manifest.input.height, manifest.input.width], calibration: images,
    method: o.method, percentile: o.percentile, activations: o.activations, keepFloat,
    spaceToDepth: o.spaceToDepth,
  });
  await checkModel(q.bytes);
  const name = path.basename(path.resolve(o.out));
  const method = o.method === 'percentile' ? `percentile ${o.percentile}` : o.method;
  const out: Manifest = {
    ...manifest,
    name,
    precision: 'int8',
    quantization: {
      from: path.basename(src), weights: 'int8, symmetric, per output channel', activations: `${o.activations}, per tensor, asymmetric`,
      calibration: method, calibration_data: o.calib, calibration_images: images.length, kept_float: q.keptFloat,
      ...(q.spaceToDepth.length ? { space_to_depth: q.spaceToDepth } : {}), format: 'QDQ (QuantizeLinear/DequantizeLinear)',
    },
    description: `${manifest.name} quantized to int8 by pinhole quantize (${method} calibration on ${images.length} images of ${o.calib})`,
  };
  delete out.metrics;
  validateManifest(JSON.parse(JSON.stringify(out)));
  // a tree kept in its own file travels with the folder; readManifest inlined it, the file name stays
  const raw = JSON.parse(await readFile(path.join(src, 'model.json'), 'utf8')) as Record<string, unknown>;
  const copy: Array<[string, string]> = typeof raw.tree === 'string' ? [[path.join(src, path.basename(raw.tree)), path.basename(raw.tree)]] : [];
  if (copy.length) Object.assign(out, { tree: raw.tree });
  const dir = await writeFolder(o.out, { 'model.onnx': q.bytes, 'model.json': JSON.stringify(out, null, 2) + '\n' }, copy);
  log(`wrote ${dir}: ${q.quantizedNodes} nodes quantized (${q.foldedBatchNorms} BatchNorms folded, ${q.pooledFirst} pools moved before their activation, `
    + `${q.spaceToDepth.length} image layers in SpaceToDepth form, ${q.activations} activations), `
    + `float32: ${q.keptFloat.join(', ') || 'none'}; model.onnx ${(q.bytes.byteLength / 1e6).toFixed(2)} MB; ${method} on ${images.length} images; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (!o.eval) return;
  await evaluateInt8(dir, name, manifest, o, log);
}

/** Scores the int8 folder as its float source was scored (same data, pinhole eval's defaults). */
async function evaluateInt8(dir: string, name: string, source: Manifest, o: QuantizeCliOptions, log: (l: string) => void): Promise<void> {
  const sm = (source.metrics ?? {}) as Record<string, unknown>;
  const val = o.val ?? (typeof sm.eval_data === 'string' ? sm.eval_data : 'synth:999:500');
  log(`evaluating on ${val} with pinhole eval ...`);
  const ev = await runPinholeEval(dir, val);
  const seed = /^synth\w*:(\d+):/.exec(val);
  const metrics: Record<string, unknown> = {
    map50: ev.map50, map: ev.map, per_class_ap50: ev.per_class, eval_data: val,
    ...(seed ? { eval_seed: Number(seed[1]) } : {}), measured_by: `pinhole eval ${name} --data ${val}`,
  };
  for (const k of ['tree_scores', 'hier'] as const) if (sm[k] !== undefined) metrics[k] = sm[k];
  const clsOnly = sm.classification_only_classes;
  if (Array.isArray(clsOnly)) {
    const aps = clsOnly.map((n) => ev.per_class[n as string]).filter((v) => v !== undefined);
    metrics.classification_only_classes = clsOnly;
    metrics.map50_classification_only = aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0;
  }
  if (sm.eval_data === val && typeof sm.map50 === 'number') {
    metrics.fp32_map50 = sm.map50;
    metrics.map50_change = ev.map50 - sm.map50;
  }
  await writeMetrics(dir, metrics);
  log(`${name} on ${val}: mAP@0.5 ${ev.map50.toFixed(4)}, mAP@[.5:.95] ${ev.map.toFixed(4)}`
    + (metrics.fp32_map50 !== undefined ? ` (float32 ${(sm.map50 as number).toFixed(4)}, change ${(metrics.map50_change as number) >= 0 ? '+' : ''}${(metrics.map50_change as number).toFixed(4)})` : ''));
}

function methodOption(raw: string): CalibrationMethod {
  if (!(CALIBRATION_METHODS as readonly string[]).includes(raw)) throw new UsageError(`--method must be one of ${CALIBRATION_METHODS.join(', ')}, got "${raw}"`);
  return raw as CalibrationMethod;
}

function activationsOption(raw: string): ActivationType {
  if (raw !== 'uint8' && raw !== 'int8') throw new UsageError(`--activations must be uint8 or int8, got "${raw}"`);
  return raw;
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description('static int8 quantization of a detector folder (QDQ, per-channel int8 weights, calibrated activations) into a new model folder')
    .argument('<model_dir>', 'float32 detector folder (model.json + model.onnx)')
    .requiredOption('--calib <spec>', 'calibration images: a --data spec (synth:SEED:COUNT, voc:DIR, ...) or a folder of images; use a seed neither trained on nor held out')
    .requiredOption('--out <dir>', 'model folder to write (an existing model folder there is replaced)')
    .option('--limit <n>', 'use the first N calibration images only', intOption('--limit', 1, 100_000))
    .option('--method <m>', `activation range calibration: ${CALIBRATION_METHODS.join(', ')}`, methodOption, 'percentile')
    .option('--percentile <p>', 'percentile kept at each end of every activation (--method percentile)', numberOption('--percentile', 90, 100), 99.99)
    .option('--activations <t>', 'activation type: uint8 (x86: the u8 x s8 VNNI kernels) or int8', activationsOption, 'uint8')
    .option('--keep-float <list>', 'layers left in float32: a comma list of first (the layers reading the image), last (the layers producing the outputs) and node names, or none', keepFloatOption, 'first,last')
    .option('--no-space-to-depth', 'keep the image layer (3x3 conv, activation, 2x2 pool) as it is, instead of a 2x2 int8 convolution on the SpaceToDepth of the image with a max over the pool\'s phases')
    .option('--val <spec>', 'evaluate on this dataset (default: the float model\'s metrics.eval_data, else synth:999:500)')
    .option('--no-eval', 'skip the evaluation')
    .allowExcessArguments(false)
    .action((modelDir: string, o: QuantizeCliOptions) => run(modelDir, o));
}
