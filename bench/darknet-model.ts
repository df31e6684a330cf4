// darknet's yolov2-tiny-voc (Debian's cfg) with seeded random weights from the darknet oracle's
// gen_weights.py, imported into a model folder, and its int8 version made by `pinhole quantize`: the same
// cfg + weights every contender of the peer bench loads. Cached under the OS temp folder by seed; the int8
// folder by the quantizer's sources too (a hash of them), beside a link to the float folder.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importDarknet } from '../src/onnx/darknet/folder.ts';
import { darknetAvailable, darknetCfg, darknetData, oracleWeights } from '../test/helpers/oracle.ts';

const BIN = fileURLToPath(new URL('../bin/pinhole.js', import.meta.url));
const QUANTIZER = fileURLToPath(new URL('../src/onnx/quantize/', import.meta.url));

/** A hash of the quantizer's sources: an int8 folder made by other code is made again. */
function quantizerStamp(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(QUANTIZER).sort()) h.update(f).update(readFileSync(join(QUANTIZER, f)));
  return h.digest('hex').slice(0, 16);
}

export interface DarknetBenchModel {
  cfg: string;
  weights: string;
  names: string;
  /** folder holding the model folders `NAME` (float32) and `NAME-int8` */
  modelsDir: string;
  name: string;
  int8Name: string;
}

/** What is missing to build the model, or undefined when everything is there. */
export function darknetModelMissing(): string | undefined {
  if (!darknetAvailable()) return "the darknet oracle scripts (/work/shared/darknet-oracle), /usr/bin/python3 or Debian's darknet data (apt-get install darknet python3-numpy)";
  return undefined;
}

export async function darknetBenchModel(seed = 1, calib = 'synth:997:64'): Promise<DarknetBenchModel> {
  const cfg = darknetCfg('yolov2-tiny-voc');
  const names = darknetData('voc.names');
  const weights = await oracleWeights(cfg, { seed });
  const root = join(tmpdir(), `pinhole-bench-darknet-${userInfo().uid}`);
  const name = 'yolov2-tiny-voc';
  const int8Name = `${name}-int8`;
  const float = join(root, `seed${seed}`, name);
  if (!existsSync(join(float, 'model.json'))) await importDarknet({ cfg, weights, names, out: float });
  // the int8 folder, one per quantizer, beside a link to the float one: worktrees of other branches share this
  // temp folder (same user), and a shared int8 folder was quantized again by whichever bench started last,
  // under another's running bench
  const quantizer = quantizerStamp();
  const modelsDir = join(root, `seed${seed}-q${quantizer}`);
  mkdirSync(modelsDir, { recursive: true });
  try {
    symlinkSync(float, join(modelsDir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const stamp = join(modelsDir, `${int8Name}.quantizer`);
  const want = `${quantizer} ${calib}`;
  if (!existsSync(join(modelsDir, int8Name, 'model.json')) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    // random weights score nothing worth evaluating; the speed is the point here
    execFileSync(process.execPath, [BIN, 'quantize', join(modelsDir, name), '--calib', calib, '--out', join(modelsDir, int8Name), '--no-eval'], { stdio: ['ignore', 'ignore', 'inherit'] });
    writeFileSync(stamp, want);
  }
  return { cfg, weights, names, modelsDir, name, int8Name };
}

/**
 * The model folder a bench script runs: `given` (its --model), or else the darknet bench model's int8 folder,
 * built on first use. Exits with 2 and says what is missing when it cannot be built.
 */
export async function int8BenchModelDir(given: string | undefined, script: string): Promise<string> {
  if (given) return given;
  const missing = darknetModelMissing();
  if (missing) {
    console.error(`${script}: no --model given and the darknet bench model cannot be built: missing ${missing}`);
    process.exit(2);
  }
  const dn = await darknetBenchModel();
  return join(dn.modelsDir, dn.int8Name);
}
