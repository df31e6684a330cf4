// A child process for test/heap-growth.test.ts: a server's garbage in miniature. A ~16 MB heap of live
// objects, and Buffers arriving as 8 camera streams' frames do (~90 KB each, ~240 a second, a few held a
// moment), for `--ticks` thirtieths of a second (counted, not timed, so that a busy machine makes the same
// garbage); prints the count of full (mark-compact) collections as JSON.
// `--grow`: setHeapGrowth() first, as `pinhole serve` does.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setHeapGrowth } from '../../src/server/heap-growth.ts';

const args = process.argv.slice(2);
const ticks = Number(args[args.indexOf('--ticks') + 1] || 90);
if (args.includes('--grow')) setHeapGrowth(undefined, [], '');

// what survives every collection: routes, schemas, modules (the server's heap is ~16 MB)
const live = Array.from({ length: 160_000 }, (_, i) => ({ i, name: `item ${i}`, tags: [i, i + 1] }));
let majors = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });

const held: Buffer[] = [];
let frames = 0;
let tick = 0;
await new Promise<void>((done) => {
  const step = () => {
    // a frame of each stream in 1/30 s: 8 x 92 KB as read from the socket, the copy ws makes of each, the last
    // few held a while, and the decoded pixels of the 4 frames processed meanwhile
    for (let s = 0; s < 8; s++) {
      const read = Buffer.allocUnsafe(92 * 1024);
      const frame = Buffer.allocUnsafe(92 * 1024);
      read[0] = frame[0] = s;
      held.push(frame);
      frames++;
    }
    for (let p = 0; p < 4; p++) Buffer.allocUnsafe(230 * 1024)[0] = p;
    if (held.length > 24) held.splice(0, held.length - 24);
    if (++tick < ticks) setTimeout(step, 33);
    else done();
  };
  step();
});
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(`${JSON.stringify({ majors, frames, live: live.length })}\n`);
