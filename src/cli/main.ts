// `pinhole` entry point: wires the subcommands and turns errors into one line on stderr
// with exit code 2 for bad usage and 1 for failures (SPEC.md).
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from './errors.ts';
import { commandsFor } from './commands.ts';
import { VERSION } from '../version.ts';
import { startMark } from '../runtime/start-trace.ts';

startMark('main.js');

const program = new Command('pinhole')
  .description('Pinhole: real-time object detection and image generation inference server')
  .version(VERSION)
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => { if (!/^error:/.test(s)) process.stderr.write(s); } });

for (const mod of await Promise.all(commandsFor(process.argv).map((load) => load()))) mod.register(program);

function fail(code: number, message: string): never {
  process.stderr.write(`pinhole: ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) process.exit(0);
    fail(2, e.message.replace(/^error:\s*/, ''));
  }
  if (e instanceof UsageError || e instanceof InvalidArgumentError) fail(2, (e as Error).message);
  fail(1, e instanceof Error ? e.message : String(e));
}
