// One entry per subcommand: its name and the module that registers it (`register(program)`). Modules are
// loaded on demand: `pinhole serve` imports the server, not tfjs and the trainers (cold start).
import type { Command } from 'commander';

type Registers = () => Promise<{ register(program: Command): void }>;

export const commands: Record<string, Registers> = {
  darknet: () => import('./darknet.ts'),
  faceapi: () => import('./faceapi.ts'),
  detect: () => import('./detect.ts'),
  eval: () => import('./eval.ts'),
  generate: () => import('./generate.ts'),
  serve: () => import('./serve.ts'),
  train: () => import('./train.ts'),
  export: () => import('./export.ts'),
  bench: () => import('./bench.ts'),
  quantize: () => import('./quantize.ts'),
};

/** The modules to load for these arguments: the named subcommand's alone, else all (help, typos). */
export function commandsFor(argv: readonly string[]): Registers[] {
  const name = argv[2];
  return name !== undefined && Object.hasOwn(commands, name) ? [commands[name]] : Object.values(commands);
}
