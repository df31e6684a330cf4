// `pinhole detect MODEL_DIR INPUT... [--thresh T] [--nms N] [--hier H] [--max-det K] [--json] [--save PATH]`
// Offline detection through the same Runtime the server uses (same preprocessing, batching, decode).
// Inputs (files, folders, globs, -, videos): inputs.ts; annotated images: save.ts; videos: video.ts.
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { PinholeError } from '../errors.ts';
import { Runtime, type DetectPlan } from '../runtime/runtime.ts';
import type { DetectionResponse, DetectParams } from '../runtime/types.ts';
import { detectParams, epList, hierOption, maxDetOption, nmsOption, threshOption, treeScoresOption } from './detect-options.ts';
import { intOption, UsageError } from './errors.ts';
import { expandInputs, imageBytes, readStdin, type Input } from './inputs.ts';
import { AnnotatedWriter } from './save.ts';
import { runVideos } from './video-cli.ts';

interface DetectCliOptions extends DetectParams {
  json?: boolean;
  ep: string[];
  maxBatch: number;
  save?: string;
}

function classList(raw: string): number[] {
  const ids = raw.split(',').map((s) => s.trim());
  if (ids.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--classes must be a comma list of class ids, got "${raw}"`);
  return ids.map(Number);
}

const fmt = (v: number) => v.toFixed(1);

/** A flag the model refuses (a class id it does not have, ...) is bad usage: exit 2. */
function resolveFlags(rt: Runtime, name: string, params: DetectParams): DetectPlan {
  try {
    return rt.resolveDetect(name, params);
  } catch (e) {
    if (e instanceof PinholeError && e.code === 'bad_parameter') throw new UsageError(e.message);
    throw e;
  }
}

function human(file: string, r: DetectionResponse): string {
  const lines = [`${file}: ${r.image.width}x${r.image.height}, ${r.detections.length} object${r.detections.length === 1 ? '' : 's'}`
    + ` (decode ${fmt(r.timing_ms.decode)} ms, infer ${fmt(r.timing_ms.infer)} ms)`];
  for (const d of r.detections) {
    const b = d.box;
    const path = d.path ? `  [${d.path.join(' > ')}]` : '';
    lines.push(`  ${d.class.padEnd(16)} ${(d.score * 100).toFixed(1).padStart(5)}%  (${fmt(b.x1)}, ${fmt(b.y1)}) - (${fmt(b.x2)}, ${fmt(b.y2)})${path}`);
  }
  return lines.join('\n') + '\n';
}

/** Images from which `pinhole detect` rewrites the model as Winograd (runtime option winograd). */
const WINOGRAD_MIN_IMAGES = 32;

async function run(modelDir: string, args: string[], o: DetectCliOptions): Promise<void> {
  const all = await expandInputs(args);
  const images = all.filter((i) => i.kind !== 'video');
  const videos = all.filter((i): i is Input & { kind: 'video' } => i.kind === 'video');
  const dir = resolve(modelDir);
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new Error(`no model folder at ${modelDir}`);
  const name = basename(dir);
  // one image: one worker with every core gives it the lowest latency; several: the serving default.
  // The Winograd rewrite costs its one-off time at every start here (no ORT cache: ~0.5 s on yolov2-tiny-voc,
  // which then saves ~20 ms of CPU per image): a few images are done sooner without it.
  const rt = await Runtime.create({
    modelsDir: dirname(dir), only: [name], eps: o.ep, maxBatch: o.maxBatch, batchDelayMs: 0, warmup: false,
    workers: images.length === 1 && !videos.length ? 1 : undefined, winograd: videos.length > 0 || images.length >= WINOGRAD_MIN_IMAGES,
  });
  try {
    const info = rt.model(name)!;
    if (info.status !== 'ready') throw new Error(`model ${modelDir} failed to load: ${info.error}`);
    // flags are checked for syntax by commander; against the model, once, by the runtime's door
    const plan = resolveFlags(rt, name, detectParams(o));
    if (videos.length) await runVideos(rt, plan, videos, { save: o.save, json: o.json, images: images.length });
    const saver = o.save && images.length ? new AnnotatedWriter(o.save) : undefined;
    let stdin: Promise<Buffer> | undefined;
    // every image goes in at once: the batcher groups them, exactly as concurrent HTTP requests
    const results = await Promise.allSettled(images.map(async (inp) => {
      const bytes = await imageBytes(inp, () => (stdin ??= readStdin()));
      let r;
      try {
        r = await rt.runDetect(plan, bytes);
      } catch (e) {
        throw new Error(`${inp.name}: ${(e as Error).message}`);
      }
      if (saver) await saver.write(inp.name, bytes, r);
      return r;
    }));
    const failures: Error[] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') failures.push(r.reason as Error);
      else process.stdout.write(o.json ? `${JSON.stringify(r.value)}\n` : human(images[i].name, r.value));
    });
    if (failures.length) {
      const first = failures[0];
      if (first instanceof UsageError) throw first;
      throw new Error(failures.length > 1 ? `${first.message} (and ${failures.length - 1} more failed)` : first.message);
    }
  } finally {
    await rt.close();
  }
}

export function register(program: Command): void {
  program
    .command('detect')
    .description('detect objects in images (files, folders, globs, stdin) or videos with a model folder (same pipeline as the server)')
    .argument('<model_dir>', 'model folder (model.json + model.onnx)')
    .argument('<inputs...>', 'image files (JPEG, PNG, WebP, ...), folders, globs ("imgs/*.jpg"), - (an image on stdin) or video files (ffmpeg)')
    .option('--thresh <t>', 'score threshold in [0, 1] (default: the model\'s, else .25)', threshOption)
    .option('--nms <n>', 'NMS IoU threshold in [0, 1] (default: the model\'s, else .45 / .4 for YOLOv1)', nmsOption)
    .option('--hier <h>', 'YOLO9000 hierarchy threshold in [0, 1] (default: the model\'s, else .5)', hierOption)
    .option('--tree-scores <mode>', 'YOLO9000: top (one node per box, darknet detector test) or classes (every leaf scored, darknet valid)', treeScoresOption)
    .option('--max-det <k>', 'at most K detections per image, best first', maxDetOption(1_000_000))
    .option('--classes <ids>', 'keep only these class ids (comma list)', classList)
    .option('--agnostic', 'class-agnostic NMS')
    .option('--json', 'one JSON detection response per image, one per line')
    .option('--save <path>', 'write the inputs with boxes drawn: images into folder PATH; a video into PATH if it ends in .mp4/.mkv/.webm/..., else into the folder (plus JSON lines beside it)')
    .option('--ep <list>', 'execution providers in order of preference, e.g. cuda,cpu', epList, ['cpu'])
    .option('--max-batch <n>', 'largest batch when several images are given', intOption('--max-batch', 1, 256), 8)
    .action((modelDir: string, images: string[], o: DetectCliOptions) => run(modelDir, images, o));
}
