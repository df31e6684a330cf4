// The flags `pinhole train` subcommands share, each declared once here (name, parser, range); a
// trainer picks the ones it takes and says what they mean for it and what they default to.
import { Option, type Command } from 'commander';
import { intOption, numberOption, UsageError } from './errors.ts';

/** A `pinhole train NAME` subcommand: its flags, and the training it runs with them. */
export interface TrainCommand {
  name: string;
  description: string;
  /** adds this trainer's flags (`--out` is added for every trainer) */
  flags(cmd: Command): Command;
  /** parsed flags; `given` lists the ones typed on the command line (the rest are defaults) */
  run(opts: Record<string, unknown>, given: string[]): Promise<void>;
}

const withDefault = (o: Option, value: unknown): Option => (value === undefined ? o : o.default(value));

/** Comma list of input sizes (pixels). */
export function sizeList(raw: string): number[] {
  const v = raw.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((n) => !Number.isInteger(n) || n < 32 || n > 2048)) {
    throw new UsageError(`--sizes must be a comma list of integers in [32, 2048], got "${raw}"`);
  }
  return v;
}

export const runFlags = {
  data: (help: string, value: string) => new Option('--data <spec>', help).default(value),
  val: (help: string, value: string) => new Option('--val <spec>', help).default(value),
  /** `fraction`: a schedule may end inside an epoch */
  epochs: (help: string, value: number, fraction: boolean) => new Option('--epochs <n>', help)
    .argParser(fraction ? numberOption('--epochs', 1e-9, 100_000) : intOption('--epochs', 1, 100_000)).default(value),
  batch: (help: string, value: number, flag = '--batch') => new Option(`${flag} <n>`, help).argParser(intOption(flag, 1, 1024)).default(value),
  lr: (help: string, value: number) => new Option('--lr <rate>', help).argParser(numberOption('--lr', 1e-7, 1)).default(value),
  burnIn: () => new Option('--burn-in <steps>', 'learning-rate warm-up steps').argParser(intOption('--burn-in', 0, 1e9)).default(100),
  /** `what`: what the seed decides */
  seed: (what: string) => new Option('--seed <n>', `seed of ${what}`).argParser(intOption('--seed', 0, 2 ** 31 - 1)).default(1),
  size: (help: string, value: number | undefined, lo = 32, hi = 2048) => withDefault(new Option('--size <px>', help).argParser(intOption('--size', lo, hi)), value),
  sizes: (help: string, value?: number[]) => withDefault(new Option('--sizes <list>', help).argParser(sizeList), value),
  jitter: (help: string, value?: number) => withDefault(new Option('--jitter <f>', help).argParser(numberOption('--jitter', 0, 0.5)), value),
  pool: (value: number) => new Option('--pool <n>', 'training scenes kept in memory').argParser(intOption('--pool', 16, 1_000_000)).default(value),
  ckptDir: (help: string) => new Option('--ckpt-dir <dir>', help),
  /** `unit`: what the interval counts */
  ckptEvery: (unit: string, value: number) => new Option('--ckpt-every <n>', `checkpoint interval (${unit})`).argParser(intOption('--ckpt-every', 1, 1e9)).default(value),
  /** `where`: the flag naming the checkpoint folder */
  resume: (where: string) => new Option('--resume', `continue from the newest checkpoint in ${where}`),
  maxSteps: (unit: string) => new Option('--max-steps <n>', `stop after N ${unit} in this run (resume later)`).argParser(intOption('--max-steps', 1, 1e12)),
  inProcess: () => new Option('--in-process', 'build batches on the main thread instead of a worker'),
} as const;

/** Adds options in order (commander's addOption, for a list). */
export function addFlags(cmd: Command, ...options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}
