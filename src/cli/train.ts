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
    cmd.action(async (opts: Record<string, unknown>, self: Command) => {
      // which options the user typed (not defaults): a resumed run keeps its own options except these
      const given = Object.keys(opts).filter((k) => self.getOptionValueSource(k) === 'cli');
      try {
        await t.run({ ...opts, given });
      } catch (e) {
        if (e instanceof DataSpecError) throw new UsageError(e.message);
        throw e;
      }
    });
  }
}
