// Writes a servable model folder (model.onnx + model.json [+ extra files]) from a tfjs model.
// The folder appears complete or not at all: files are written under temporary names and renamed
// into place only after the manifest validated and the ONNX bytes loaded in onnxruntime.
import { mkdir, rename, rm, writeFile, mkdtemp, stat } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { validateManifest, type Manifest } from '../../manifest.ts';
import { checkModel } from '../check.ts';
import { exportLayersModelWithInfo, type ExportOptions, type ExportResult } from './export.ts';

export interface WriteFolderOptions extends ExportOptions {
  /** more files to place in the folder (e.g. a tree file), name -> contents */
  files?: Record<string, string | Uint8Array>;
}

export interface WrittenFolder {
  dir: string;
  manifest: Manifest;
  onnx: ExportResult;
}

const DETECTORS = new Set(['yolov1', 'yolov2', 'yolo9000']);

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/**
 * Exports `model` and writes DIR/model.onnx and DIR/model.json. `manifest.onnx` is filled in from the
 * export (first input, all outputs) unless given. For detectors the manifest's input size and
 * channels must agree with the model's image input.
 */
export async function writeModelFolder(dir: string, model: tf.LayersModel, manifest: Manifest, opts: WriteFolderOptions = {}): Promise<WrittenFolder> {
  const onnx = exportLayersModelWithInfo(model, opts);
  const m: Manifest = {
    ...manifest,
    onnx: {
      input: manifest.onnx?.input ?? onnx.inputs[0].name,
      outputs: manifest.onnx?.outputs ?? onnx.outputs.map((o) => o.name),
    },
  };
  validateManifest(JSON.parse(JSON.stringify(m)));
  const inputName = m.onnx!.input!;
  const spec = onnx.inputs.find((i) => i.name === inputName);
  if (!spec) throw new Error(`model.json onnx.input "${inputName}" is not an input of the exported graph (${onnx.inputs.map((i) => i.name).join(', ')})`);
  for (const o of m.onnx!.outputs!) {
    if (!onnx.outputs.some((x) => x.name === o)) throw new Error(`model.json onnx.outputs names "${o}", which the exported graph does not produce`);
  }
  if (DETECTORS.has(m.kind)) {
    if (spec.layout !== 'NCHW') throw new Error(`detector input "${inputName}" must be a 4-D NCHW image, got ${spec.layout} [${spec.dims.join(',')}]`);
    const [, c, h, w] = spec.dims;
    for (const [field, want, got] of [['channels', m.input.channels, c], ['height', m.input.height, h], ['width', m.input.width, w]] as const) {
      if (typeof got === 'number' && got !== want) throw new Error(`model.json input.${field} is ${want} but the model's input has ${got}`);
    }
  }
  await checkModel(onnx.bytes);

  const files: Record<string, string | Uint8Array> = {
    ...opts.files,
    'model.onnx': onnx.bytes,
    'model.json': JSON.stringify(m, null, 2) + '\n',
  };
  for (const name of Object.keys(files)) {
    if (name !== path.basename(name) || name.startsWith('.')) throw new Error(`extra file name "${name}" must be a plain file name`);
  }

  const target = path.resolve(dir);
  await mkdir(path.dirname(target), { recursive: true });
  if (!(await exists(target))) {
    // build the whole folder beside the target, then one rename
    const tmp = await mkdtemp(`${target}.tmp-`);
    try {
      for (const [name, data] of Object.entries(files)) await writeFile(path.join(tmp, name), data);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  } else {
    // existing folder (re-export): write every file under a temporary name first, then rename each
    const staged: [string, string][] = [];
    try {
      for (const [name, data] of Object.entries(files)) {
        const tmp = path.join(target, `.${name}.tmp-${process.pid}`);
        staged.push([tmp, path.join(target, name)]);
        await writeFile(tmp, data);
      }
      for (const [tmp, final] of staged) await rename(tmp, final);
    } catch (e) {
      await Promise.all(staged.map(([tmp]) => rm(tmp, { force: true })));
      throw e;
    }
  }
  return { dir: target, manifest: m, onnx };
}
