// `pinhole train NAME [options] --out DIR`: one subcommand per trainer (train-yolo.ts, train-gan.ts);
// src/train exposes plain functions with typed options, the flags live here.
import type { Command } from 'commander';
import { DataSpecError } from '../train/data/open.ts';
import { TrainOptionError } from '../train/errors.ts';
import { UsageError } from './errors.ts';
import { ganCommands } from './train-gan.ts';
import { yoloCommands } from './train-yolo.ts';

export function register(program: Command): void {
  const train = program
    .command('train')
    .description('train a model with tfjs (progress bar, checkpoints, --resume); exports a model folder to --out');
  for (const t of [...yoloCommands, ...ganCommands]) {
    const cmd = t.flags(train.command(t.name).description(t.description));
    cmd.requiredOption('--out <dir>', 'model folder to write (model.onnx + model.json)');
    cmd.action(async (opts: Record<string, unknown>, self: Command) => {
      // which flags the user typed (not defaults): a resumed run takes these over the run's own
      const given = Object.keys(opts).filter((k) => self.getOptionValueSource(k) === 'cli');
      try {
        await t.run(opts, given);
      } catch (e) {
        if (e instanceof DataSpecError || e instanceof TrainOptionError) throw new UsageError(e.message);
        throw e;
      }
    });
  }
}
