// Two model folders with the same input (e.g. an int8 folder before and after a quantizer change) in ONNX
// Runtime alone, alternating in one process: blocks of runs of each, several rounds, at each thread count,
// with the runtime's own session options (src/runtime/ort-session.ts, int8 folders flagged as such, spinning
// off). Prints the wall p50 and the process CPU per run of each: on a machine shared with other work the CPU
// per run at one thread is the figure that holds best.
//
//   node --import tsx bench/ort-ab.ts DIR_A DIR_B [--image FILE] [--runs 50] [--rounds 6] [--threads 1,2]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { readManifest } from '../src/runtime/folder.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { preprocess } from '../src/runtime/preprocess.ts';

const { values: o, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: {
    image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
    runs: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '6' },
    threads: { type: 'string', default: '1,2' },
  },
});
if (dirs.length !== 2) throw new Error('usage: bench/ort-ab.ts DIR_A DIR_B [--image FILE] [--runs N] [--rounds N] [--threads 1,2]');
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
const runs = Number(o.runs), rounds = Number(o.rounds);
const manifests = await Promise.all(dirs.map((d) => readManifest(d)));
const m = manifests[0];
const x = (await preprocess(readFileSync(o.image), m.input, m.preprocess)).data;
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(`A ${dirs[0]}, B ${dirs[1]} (${m.input.width}x${m.input.height}); ${o.image}; ORT ${ort.env.versions?.common ?? ''}; load ${load()}`);
for (const t of o.threads.split(',').map(Number)) {
  const sessions = await Promise.all(dirs.map((d, i) => ort.InferenceSession.create(join(d, 'model.onnx'),
    sessionOptions('cpu', { intraOpThreads: t, spinning: false, quantized: manifests[i].precision === 'int8' }))));
  const feeds = sessions.map((s) => ({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, m.input.channels, m.input.height, m.input.width]) }));
  const wall = [[], []] as number[][], cpu = [[], []] as number[][];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < 5; i++) await sessions[k].run(feeds[k]);
      const c0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await sessions[k].run(feeds[k]);
        wall[k].push(performance.now() - t0);
      }
      const c = process.cpuUsage(c0);
      cpu[k].push((c.user + c.system) / 1000 / runs);
    }
  }
  console.log(`\n${t} thread(s), ${rounds} rounds x ${runs} runs each, alternating; load ${load()}`);
  for (let k = 0; k < 2; k++) {
    console.log(`${'AB'[k]} ${basename(dirs[k]).padEnd(24)} wall p50 ${med(wall[k]).toFixed(2)} ms, CPU per run ${med(cpu[k]).toFixed(2)} ms `
      + `(rounds ${cpu[k].map((v) => v.toFixed(2)).join(' ')})`);
  }
  console.log(`B / A: wall ${(med(wall[1]) / med(wall[0])).toFixed(3)}, CPU ${(med(cpu[1]) / med(cpu[0])).toFixed(3)}`);
  for (const s of sessions) await s.release();
}
