// `pinhole bench [...]`: the load and micro benchmarks of bench/ (bench/README.md), run in a child
// process so their timings are not disturbed by this CLI's own module loading.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const runner = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

export function register(program: Command): void {
  program
    .command('bench')
    .description('load benchmarks: HTTP and WebSocket against the server vs the in-process ceiling, NMS/WordTree micro-benches')
    .argument('[options...]', 'passed to bench/run.ts: --only http,ws,vision,data,runtime-threads,train-kernel  --models DIR  --model NAME  --duration S')
    .allowUnknownOption()
    .helpOption('-h, --help', 'display help for command')
    .action(async (args: string[]) => {
      if (!existsSync(runner)) throw new Error(`bench/run.ts not found next to this install (${runner}): benches run from a checkout`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', runner, ...args], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
      });
      if (code !== 0) process.exitCode = code;
    });
}
