// Trainers register themselves here by name; `pinhole train NAME` (src/cli/train.ts) makes one
// subcommand per entry. Registration must stay cheap: declare options, and load the heavy training code
// (tfjs, models) inside `run`.
import type { Command } from 'commander';

export interface TrainerEntry {
  name: string;
  description: string;
  /** adds this trainer's options to its subcommand (`--out` is added for every trainer) */
  options(cmd: Command): Command;
  /** parsed options; `given` lists the ones typed on the command line (the rest are defaults) */
  run(opts: Record<string, unknown> & { given?: string[] }): Promise<void>;
}

const entries = new Map<string, TrainerEntry>();

export function registerTrainer(e: TrainerEntry): void {
  if (entries.has(e.name)) throw new Error(`trainer "${e.name}" is registered twice`);
  entries.set(e.name, e);
}

export function trainers(): TrainerEntry[] {
  return [...entries.values()];
}
