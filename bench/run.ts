// `npm run bench`: the benchmarks one after another (never at once: they would measure each other), each
// in its own process with its output as is, then a one-line status per bench.
//
//   node --import tsx bench/run.ts [--only http,ws,vision] [--models models] [--model NAME] [--duration 10]
// Also available by name: data, runtime-threads, train-kernel, quantize, peer, cold-start, kserve (see bench/README.md).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    only: { type: 'string', default: 'http,ws,vision' },
    models: { type: 'string', default: 'models' },
    model: { type: 'string' },
    duration: { type: 'string', default: '10' },
  },
});

const here = import.meta.dirname;
const serving = ['--models', o.models, '--duration', o.duration, ...(o.model ? ['--model', o.model] : [])];
const ARGS: Record<string, string[]> = {
  http: serving,
  ws: serving,
  vision: [],
  data: [],
  'runtime-threads': ['--seconds', '3', '--rounds', '1', '--batches', '1,4', '--spin', 'on'],
  'train-kernel': [],
  quantize: ['--models', o.models],
  peer: [],
  'cold-start': ['--rounds', '3'],
  kserve: ['--models', o.models],
};

const names = o.only.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names) {
  if (!existsSync(join(here, `${n}.ts`)) || n === 'run' || n === 'server-child' || n === 'darknet-model') {
    console.error(`bench: no bench "${n}" (known: ${Object.keys(ARGS).join(', ')})`);
    process.exit(2);
  }
}

const status: Array<[string, number | null, number]> = [];
for (const n of names) {
  console.log(`\n=== bench/${n}.ts ===`);
  const t0 = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(here, `${n}.ts`), ...(ARGS[n] ?? [])], { stdio: 'inherit' });
    c.on('exit', (code) => resolve(code));
  });
  status.push([n, code, (Date.now() - t0) / 1000]);
}
console.log('\n=== summary ===');
for (const [n, code, s] of status) console.log(`${n.padEnd(16)} ${code === 0 ? 'ok' : `FAILED (exit ${code})`}  ${s.toFixed(0)} s`);
process.exit(status.every(([, c]) => c === 0) ? 0 : 1);
