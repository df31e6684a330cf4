// `pinhole export CHECKPOINT --out DIR [--val SPEC] [--size PX] [--hier H]`: a training checkpoint (a run's checkpoint folder or
// one ckpt-* folder in it) to a servable model folder, e.g. to serve a run that is still going.
import type { Command } from 'commander';
import { DataSpecError, parseDataSpec } from '../train/data/open.ts';
import { hierOption } from './detect-options.ts';
import { intOption, UsageError } from './errors.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description('tfjs training checkpoint -> model folder (model.onnx + model.json)')
    .argument('<checkpoint>', 'checkpoint folder of a training run (--ckpt-dir), or one ckpt-* folder in it')
    .requiredOption('--out <dir>', 'model folder to write')
    .option('--val <spec>', 'also evaluate on this dataset (pinhole eval) and record the figures in model.json')
    .option('--size <px>', 'input side of the exported model (yolov2/yolo9000, a multiple of 16; default: the training size)', intOption('--size', 32, 2048))
    .option('--hier <h>', 'yolo9000: the model\'s default hierarchy threshold, written to model.json (darknet\'s .5 otherwise)', hierOption)
    .action(async (ckpt: string, o: { out: string; val?: string; size?: number; hier?: number }) => {
      if (o.val) {
        try {
          parseDataSpec(o.val);
        } catch (e) {
          if (e instanceof DataSpecError) throw new UsageError(`--val: ${e.message}`);
          throw e;
        }
      }
      if (o.size !== undefined) {
        const { exportSizeProblem } = await import('../train/yolo/models.ts');
        const problem = exportSizeProblem(o.size);
        if (problem) throw new UsageError(problem);
      }
      const { exportCheckpoint } = await import('../train/yolo/trainers.ts');
      const log = (l: string) => process.stdout.write(l + '\n');
      if (!(await exportCheckpoint(ckpt, o, log))) throw new Error(`${ckpt} is not a checkpoint of a detector this command can export`);
    });
}
