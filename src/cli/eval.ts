// `pinhole eval MODEL_DIR --data SPEC [--json]`: runs a model folder through the serving runtime's
// detect path (same preprocessing, batching and decoding as the server) over a dataset and prints
// VOC mAP@0.5 (all-point) and COCO mAP@[.5:.95].
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { PinholeError } from '../errors.ts';
import { readManifest } from '../runtime/folder.ts';
import { Runtime } from '../runtime/runtime.ts';
import type { DetectParams } from '../runtime/types.ts';
import { evaluateDetector } from '../train/data/evaluate.ts';
import { DataSpecError, openDataset } from '../train/data/open.ts';
import { evalJson } from '../vision/map.ts';
import { detectParams, epList, hierOption, maxDetOption, nmsOption, threshOption, treeScoresOption } from './detect-options.ts';
import { intOption, UsageError } from './errors.ts';

// thresh and max-det have defaults here (ranking wants low-score detections, COCO keeps 100)
interface EvalCliOptions extends DetectParams {
  data: string;
  json?: boolean;
  thresh: number;
  maxDet: number;
  limit?: number;
  ep: string[];
  maxBatch: number;
}

const f3 = (v: number) => (Number.isNaN(v) ? '  n/a' : v.toFixed(3));

async function run(modelDir: string, o: EvalCliOptions): Promise<void> {
  const dir = resolve(modelDir);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new Error(`no model folder at ${modelDir}`);
  let ds;
  try {
    ds = await openDataset(o.data);
  } catch (e) {
    if (e instanceof DataSpecError) throw new UsageError(`--data: ${e.message}`);
    throw e;
  }
  const name = basename(dir);
  const rt = await Runtime.create({ modelsDir: dirname(dir), only: [name], eps: o.ep, maxBatch: o.maxBatch, batchDelayMs: 1, warmup: false });
  const bar = process.stderr.isTTY ? new SingleBar({ format: 'eval [{bar}] {value}/{total} images | {eta_formatted} left', stream: process.stderr, hideCursor: true }) : undefined;
  try {
    const info = rt.model(name);
    if (!info || info.status !== 'ready') throw new Error(`model ${modelDir} failed to load: ${info?.error ?? 'not found'}`);
    const params = detectParams(o);
    const total = Math.min(ds.size, o.limit ?? ds.size);
    // the runtime loaded and validated this manifest already: reading it again cannot fail differently
    const manifest = await readManifest(dir);
    const modelNames = manifest.names;
    let scoring = '';
    if (manifest.kind === 'yolo9000') {
      // mAP ranks each class's own score: score the dataset's classes at every box (darknet's valid
      // with a map); `top` reports what the server answers by default
      params.treeScores ??= 'classes';
      if (params.treeScores === 'classes') params.classes = ds.names.map((n) => modelNames.indexOf(n)).filter((i) => i >= 0);
    }
    // the door once for the whole dataset: every image then runs on the same checked plan
    let plan;
    try {
      plan = rt.resolveDetect(name, params);
    } catch (e) {
      if (e instanceof PinholeError && e.code === 'bad_parameter') throw new UsageError(e.message);
      throw e;
    }
    if (manifest.kind === 'yolo9000') {
      scoring = `, YOLO9000 boxes scored by ${params.treeScores === 'classes' ? 'class (objectness x path probability)' : `top node (hier ${plan.params.hier})`}`;
    }
    bar?.start(total, 0);
    const result = await evaluateDetector(
      ds,
      async (bytes) => (await rt.runDetect(plan, bytes)).detections,
      { limit: o.limit, concurrency: Math.max(2, o.maxBatch * 2), modelNames, onProgress: (d) => bar?.update(d) },
    );
    bar?.stop();
    if (result.unknownClasses.length) {
      process.stderr.write(`pinhole: ${result.unknownClasses.length} dataset class(es) unknown to ${name}, left out: ${result.unknownClasses.slice(0, 10).join(', ')}${result.unknownClasses.length > 10 ? ', ...' : ''}\n`);
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify(evalJson(result.metrics))}\n`);
      return;
    }
    const m = result.metrics;
    const lines = [
      `${name} on ${o.data}: ${result.images} images, ${result.objects} objects${scoring}`,
      `mAP@0.5 (VOC, all-point)   ${f3(m.map50)}`,
      `mAP@[.5:.95] (COCO)        ${f3(m.map)}`,
      `mAP@0.75 (COCO)            ${f3(m.map75)}`,
      'per class: AP@0.5   AP@[.5:.95]   objects',
    ];
    const w = Math.max(...m.perClass.map((c) => c.name.length), 8);
    for (const c of m.perClass) lines.push(`  ${c.name.padEnd(w)}  ${f3(c.ap50)}   ${f3(c.ap)}   ${c.gt}`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    bar?.stop();
    await rt.close();
  }
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('detection accuracy of a model folder on a dataset: VOC mAP@0.5 and COCO mAP@[.5:.95]')
    .argument('<model_dir>', 'model folder (model.json + model.onnx)')
    .requiredOption('--data <spec>', 'dataset: synth:SEED:COUNT[:SIZE], synth9k:SEED:COUNT, voc:DIR[:SPLIT], coco:JSON[:IMAGEDIR], yolo:DIR[:SPLIT], or a dataset folder')
    .option('--json', 'print {"map50":..,"map":..,"per_class":{name: AP@0.5}} on one line')
    .option('--thresh <t>', 'score threshold for detections entering the ranking (low, as darknet\'s valid)', threshOption, 0.005)
    .option('--nms <n>', 'NMS IoU threshold (default: the model\'s)', nmsOption)
    .option('--tree-scores <mode>', 'YOLO9000: classes (default; each dataset class scored objectness x path probability at every box, as darknet\'s valid with a class map and the YOLO9000 paper\'s mAP) or top (one node per box, as darknet\'s detector test)', treeScoresOption)
    .option('--hier <h>', 'YOLO9000 hierarchy threshold for --tree-scores top (default: the model\'s, else .5)', hierOption)
    .option('--max-det <k>', 'detections kept per image (as COCO)', maxDetOption(100_000), 100)
    .option('--limit <n>', 'evaluate the first N images only', intOption('--limit', 1, Number.MAX_SAFE_INTEGER))
    .option('--ep <list>', 'execution providers in order of preference, e.g. cuda,cpu', epList, ['cpu'])
    .option('--max-batch <n>', 'largest inference batch', intOption('--max-batch', 1, 256), 4)
    .action((modelDir: string, o: EvalCliOptions) => run(modelDir, o));
}
