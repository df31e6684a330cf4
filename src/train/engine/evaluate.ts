// Evaluation of an exported model folder by `pinhole eval` itself (same runtime, preprocessing and
// decoder as the server), and recording the figures in the folder's model.json.
import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateManifest } from '../../manifest.ts';

export interface EvalFigures {
  map50: number;
  map: number;
  per_class: Record<string, number>;
}

const BIN = fileURLToPath(new URL('../../../bin/pinhole.js', import.meta.url));

export function runPinholeEval(modelDir: string, data: string, extra: string[] = []): Promise<EvalFigures> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'eval', modelDir, '--data', data, '--json', ...extra], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`pinhole eval failed: ${stderr.trim() || err.message}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as EvalFigures);
      } catch {
        reject(new Error(`pinhole eval printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/** Merges `metrics` into DIR/model.json (validated, written atomically). */
export async function writeMetrics(modelDir: string, metrics: Record<string, unknown>): Promise<void> {
  const file = path.join(modelDir, 'model.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  m.metrics = { ...(m.metrics as Record<string, unknown> | undefined), ...metrics };
  validateManifest(m);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(m, null, 2) + '\n');
  await rename(tmp, file);
}
