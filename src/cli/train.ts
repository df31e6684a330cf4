// `pinhole train NAME [options] --out DIR`: one subcommand per registered trainer (src/train/registry.ts).
import type { Command } from 'commander';
import { DataSpecError } from '../train/data/open.ts';
import { trainers } from '../train/registry.ts';
import '../train/trainers.ts';
import { UsageError } from './errors.ts';

export function register(program: Command): void {
  const train = program
    .command('train')
    .description('train a model with tfjs (progress bar, checkpoints, --resume); exports a model folder to --out');
  for (const t of trainers()) {
    const cmd = train.command(t.name).description(t.description);
    t.options(cmd);
    cmd.requiredOption('--out <dir>', 'model folder to write (model.onnx + model.json)');
    cmd.action(async (opts: Record<string, unknown>) => {
      try {
        await t.run(opts);
      } catch (e) {
        if (e instanceof DataSpecError) throw new UsageError(e.message);
        throw e;
      }
    });
  }
}
