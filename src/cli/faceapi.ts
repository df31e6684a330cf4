// `pinhole faceapi MANIFEST_OR_DIR --out DIR [--name NAME] [--size PX]`
import type { Command } from 'commander';
import { DEFAULT_SIZE, importFaceApi } from '../onnx/faceapi/index.ts';
import { intOption, UsageError } from './errors.ts';

export function register(program: Command): void {
  program
    .command('faceapi')
    .description("import face-api's Tiny Face Detector (a tfjs weights manifest + .bin) into a model folder (model.onnx + model.json)")
    .argument('<manifest>', 'a *weights_manifest.json, or a folder holding one (face-api\'s model/ folder: its tiny_face_detector_model)')
    .requiredOption('--out <dir>', 'model folder to create (must not exist yet)')
    .option('--name <name>', 'model name in model.json (default: the folder name)')
    .option('--size <px>', `input side in pixels, a multiple of 32 (face-api's inputSize; default ${DEFAULT_SIZE})`, intOption('--size', 64, 4096))
    .allowExcessArguments(false)
    .action(async (manifest: string, o: { out: string; name?: string; size?: number }) => {
      if (o.size !== undefined && o.size % 32 !== 0) throw new UsageError(`--size must be a multiple of 32, got ${o.size}`);
      const r = await importFaceApi({ manifest, out: o.out, name: o.name, size: o.size });
      const m = r.manifest;
      process.stdout.write(`wrote ${r.dir}: ${r.title} "${m.name}", input ${m.input.width}x${m.input.height}, ` +
        `model.onnx ${(r.onnxBytes / 1e3).toFixed(0)} kB\n`);
    });
}
