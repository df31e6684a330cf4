// GAN benchmarks, each printing its own figures (one run, ratios within the run):
//
//   node --import tsx bench/gan.ts ring [--iterations 4000] [--seed 1] [--hidden 256] [--eval-every 250] [--batch 64]
//       [--rms-decay 0.9] [--scale 1] [--lr-decay-from F] [--ema D] [--objectives wgan,jsgan] [--out bench/results]
//     WGAN (critic without sigmoid, weights clipped to +-0.01, RMSProp 5e-5, n_critic 5) beside a
//     standard JS-GAN (same generator and critic networks; sigmoid cross-entropy, non-saturating
//     generator loss, Adam 2e-4/.5, one D step per G step) on the 8-Gaussian ring. Prints modes covered
//     (of 8; a mode counts with >= 20 of 2500 samples within 3 std) and the share of good samples, and
//     writes the critic-loss / sample-quality curves and final samples as one PNG (only when both
//     objectives run). --scale s: the networks see the data divided by s and the generator's output is
//     multiplied by s before measuring (input/output scaling, the same for both objectives; 1.4142 =
//     unit std per coordinate). --rms-decay: the WGAN's RMSProp decay (PyTorch's reference: 0.99).
//     --lr-decay-from F: both objectives' learning rates fall linearly to 0 over the last (1 - F) of the
//     run (default: constant). --ema D: also measure a moving average (decay D) of each generator's weights.
//
//     Each objective's result is saved in --out as gan-ring-<objective>.json when it finishes, so the two
//     can run as two processes (--objectives wgan / --objectives jsgan, one core each);
//   node --import tsx bench/gan.ts ring-plot [--out bench/results]
//     then prints the table and draws the PNG from those two files.
//
//   node --import tsx bench/gan.ts serve [--models models] [--requests 200]
//     POST /v1/generate and GET /v1/sample latency (p50/p95, sequential requests, loopback) against
//     `pinhole serve` in a child process, for the shipped stackgan and wgan model folders; beside it
//     the same generation in-process (ORT session.run + PNG) to show what HTTP adds.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    iterations: { type: 'string', default: '4000' },
    seed: { type: 'string', default: '1' },
    hidden: { type: 'string', default: '256' },
    'eval-every': { type: 'string', default: '250' },
    batch: { type: 'string', default: '64' },
    'rms-decay': { type: 'string' },
    scale: { type: 'string', default: '1' },
    objectives: { type: 'string', default: 'wgan,jsgan' },
    'lr-decay-from': { type: 'string' },
    ema: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    models: { type: 'string', default: 'models' },
    requests: { type: 'string', default: '200' },
  },
});
const what = positionals[0] ?? 'ring';
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function ring(): Promise<void> {
  const objectives = o.objectives!.split(',') as Array<'wgan' | 'jsgan'>;
  const unknown = objectives.filter((x) => x !== 'wgan' && x !== 'jsgan');
  if (unknown.length) {
    console.error(`--objectives: unknown ${unknown.join(', ')} (use wgan, jsgan)`);
    process.exit(2);
  }
  const { initBackend } = await import('../src/train/backend.ts');
  const { trainToy } = await import('../src/train/gan/toy.ts');
  const { RING8 } = await import('../src/train/gan/ring.ts');
  const backend = await initBackend();
  const iterations = Number(o.iterations);
  const seed = Number(o.seed);
  const hidden = Number(o.hidden);
  const evalEvery = Number(o['eval-every']);
  const batch = Number(o.batch);
  const { RMSPROP_DECAY } = await import('../src/train/gan/adversarial.ts');
  const rmsDecay = o['rms-decay'] === undefined ? RMSPROP_DECAY : Number(o['rms-decay']);
  const scale = Number(o.scale);
  const lrDecayFrom = o['lr-decay-from'] === undefined ? undefined : Number(o['lr-decay-from']);
  const emaDecay = o.ema === undefined ? undefined : Number(o.ema);
  if ((lrDecayFrom !== undefined && !(lrDecayFrom >= 0 && lrDecayFrom <= 1)) || (emaDecay !== undefined && !(emaDecay >= 0 && emaDecay < 1))) {
    console.error('--lr-decay-from takes a fraction in [0, 1], --ema a decay in [0, 1)');
    process.exit(2);
  }
  console.log(`ring bench: 8 Gaussians on a ring (radius ${RING8.radius}, std ${RING8.std}), ${iterations} generator iterations, `
    + `MLP 3x${hidden} leaky ReLU (.2) for generator and critic, batch ${batch}, WGAN RMSProp decay ${rmsDecay}, data / ${scale} for the networks, `
    + `${lrDecayFrom === undefined ? 'constant learning rates' : `learning rates falling linearly to 0 from ${lrDecayFrom} of the run`}`
    + `${emaDecay === undefined ? '' : `, generator weight average (decay ${emaDecay}) measured too`}, seed ${seed}, tfjs ${backend}; load ${load()}`);
  const settings: RingSettings = { seed, iterations, hidden, batch, rmsDecay, scale, lrDecayFrom, emaDecay };
  const results: SavedRing[] = [];
  mkdirSync(o.out!, { recursive: true });
  for (const objective of objectives) {
    const r = await trainToy({
      objective, iterations, seed, hidden, evalEvery, batch, rmsDecay, scale, lrDecayFrom, emaDecay,
      onRecord: (x) => process.stderr.write(`  ${objective} it ${x.iteration}: modes ${x.quality.modesCovered}/8, good ${(100 * x.quality.goodShare).toFixed(1)}%, `
        + `mean dist ${x.quality.meanDistance.toFixed(3)}, ${objective === 'wgan' ? 'W est' : 'D loss'} ${x.estimate.toExponential(3)}`
        + `${x.emaQuality ? `; average: modes ${x.emaQuality.modesCovered}/8, good ${(100 * x.emaQuality.goodShare).toFixed(1)}%, mean dist ${x.emaQuality.meanDistance.toFixed(3)}` : ''}\n`),
    });
    // saved as soon as it is done: the objectives may run in separate processes (one per core) and
    // `ring-plot` puts them together
    const saved: SavedRing = { settings, objective, final: r.final, finalEma: r.finalEma, history: r.history, seconds: r.seconds,
      samples: Array.from(r.samples), emaSamples: r.emaSamples && Array.from(r.emaSamples) };
    writeFileSync(join(o.out!, `gan-ring-${objective}.json`), JSON.stringify(saved));
    results.push(saved);
  }
  await report(results);
}

interface RingSettings { seed: number; iterations: number; hidden: number; batch: number; rmsDecay: number; scale: number; lrDecayFrom?: number; emaDecay?: number }
interface SavedRing {
  settings: RingSettings;
  objective: 'wgan' | 'jsgan';
  final: import('../src/train/gan/ring.ts').RingQuality;
  finalEma?: import('../src/train/gan/ring.ts').RingQuality;
  history: import('../src/train/gan/toy.ts').ToyRecord[];
  seconds: number;
  samples: number[];
  emaSamples?: number[];
}

/** `ring-plot`: the table and the figure from the per-objective files that `ring` wrote into --out. */
async function ringPlot(): Promise<void> {
  const read = (objective: string) => JSON.parse(readFileSync(join(o.out!, `gan-ring-${objective}.json`), 'utf8')) as SavedRing;
  const results = [read('wgan'), read('jsgan')];
  const [a, b] = results.map((r) => JSON.stringify(r.settings));
  if (a !== b) console.log(`note: the two runs differ in settings: ${a} vs ${b}`);
  await report(results);
}

async function report(results: SavedRing[]): Promise<void> {
  const { ringCentres } = await import('../src/train/gan/ring.ts');
  const { figureSvg, svgToPng } = await import('../src/train/gan/plot.ts');
  const { pearson } = await import('../src/train/gan/wgan-image.ts');
  console.log('\n| objective | modes covered (of 8) | good samples (within 3 std) | mean distance to nearest mode | corr(critic curve, mean distance) | seconds |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    const corr = pearson(r.history.map((h) => h.estimate), r.history.map((h) => h.quality.meanDistance));
    const name = r.objective === 'wgan' ? 'WGAN (clip .01, RMSProp 5e-5, n_critic 5)' : 'JS-GAN (Adam 2e-4, 1 D step)';
    console.log(`| ${name} | ${r.final.modesCovered} | `
      + `${(100 * r.final.goodShare).toFixed(1)}% | ${r.final.meanDistance.toFixed(3)} | ${corr.toFixed(2)} | ${r.seconds.toFixed(0)} |`);
    if (r.finalEma) console.log(`| ${name}, weight average ${r.settings.emaDecay} | ${r.finalEma.modesCovered} | ${(100 * r.finalEma.goodShare).toFixed(1)}% | ${r.finalEma.meanDistance.toFixed(3)} | - | - |`);
  }
  const w = results.find((r) => r.objective === 'wgan');
  const j = results.find((r) => r.objective === 'jsgan');
  if (!w || !j) return;
  const pts = (r: SavedRing, f: (h: SavedRing['history'][number]) => number) => r.history.map((h) => [h.iteration, f(h)] as [number, number]);
  const averageSeries = (r: SavedRing) => r.history[0]?.emaQuality ? [
    { label: 'weight average: modes / 8', colour: '#d35400', right: true, dashed: true, points: pts(r, (h) => h.emaQuality!.modesCovered / 8) },
    { label: 'weight average: good share', colour: '#16a085', right: true, dashed: true, points: pts(r, (h) => h.emaQuality!.goodShare) },
  ] : [];
  const svg = figureSvg([
    { kind: 'line', panel: {
      title: 'WGAN: critic estimate of W vs sample quality', xLabel: 'generator iteration', yLabel: 'E f(real) - E f(fake)', yRightLabel: 'share / distance',
      series: [
        { label: 'W estimate (= -critic loss)', colour: '#c0392b', points: pts(w, (h) => h.estimate) },
        { label: 'good samples share', colour: '#27ae60', right: true, points: pts(w, (h) => h.quality.goodShare) },
        { label: 'modes covered / 8', colour: '#8e44ad', right: true, dashed: true, points: pts(w, (h) => h.quality.modesCovered / 8) },
        { label: 'mean distance to mode / 2', colour: '#2e86c1', right: true, points: pts(w, (h) => h.quality.meanDistance / 2) },
        ...averageSeries(w),
      ] } },
    { kind: 'line', panel: {
      title: 'JS-GAN (same networks): discriminator loss vs sample quality', xLabel: 'generator iteration', yLabel: 'discriminator loss', yRightLabel: 'share / distance',
      series: [
        { label: 'D loss', colour: '#c0392b', points: pts(j, (h) => h.estimate) },
        { label: 'good samples share', colour: '#27ae60', right: true, points: pts(j, (h) => h.quality.goodShare) },
        { label: 'modes covered / 8', colour: '#8e44ad', right: true, dashed: true, points: pts(j, (h) => h.quality.modesCovered / 8) },
        { label: 'mean distance to mode / 2', colour: '#2e86c1', right: true, points: pts(j, (h) => h.quality.meanDistance / 2) },
        ...averageSeries(j),
      ] } },
    { kind: 'scatter', panel: { title: `WGAN samples: ${w.final.modesCovered}/8 modes, ${(100 * w.final.goodShare).toFixed(0)}% good`, points: Float32Array.from(w.samples), colour: '#c0392b', marks: ringCentres(), range: [-3, 3] } },
    { kind: 'scatter', panel: { title: `JS-GAN samples: ${j.final.modesCovered}/8 modes, ${(100 * j.final.goodShare).toFixed(0)}% good`, points: Float32Array.from(j.samples), colour: '#2e86c1', marks: ringCentres(), range: [-3, 3] } },
    ...[w, j].filter((r) => r.emaSamples && r.finalEma).map((r) => ({ kind: 'scatter' as const, panel: {
      title: `${r.objective === 'wgan' ? 'WGAN' : 'JS-GAN'}, weight average ${r.settings.emaDecay}: ${r.finalEma!.modesCovered}/8 modes, ${(100 * r.finalEma!.goodShare).toFixed(0)}% good`,
      points: Float32Array.from(r.emaSamples!), colour: r.objective === 'wgan' ? '#922b21' : '#1a5276', marks: ringCentres(), range: [-3, 3] as [number, number] } })),
  ], 2, 560, 400);
  const file = join(o.out!, 'gan-ring.png');
  writeFileSync(file, await svgToPng(svg));
  writeFileSync(join(o.out!, 'gan-ring.json'), JSON.stringify({ ...w.settings, jsganSettings: j.settings,
    results: results.map((r) => ({ objective: r.objective, final: r.final, finalEma: r.finalEma, history: r.history, seconds: r.seconds })) }, null, 1));
  console.log(`\nplot: ${file} (and the numbers in gan-ring.json); load ${load()}`);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function serve(): Promise<void> {
  const { startServerChild } = await import('./server-child.ts');
  const { stackGanFeeds, stackGanSpec, wganSpec, seededNormals, NOISE_STREAM, encodePng } = await import('../src/runtime/generate.ts');
  const { toRgb } = await import('../src/vision/generated-images.ts');
  const { encodeText } = await import('../src/vision/text.ts');
  const { validateManifest } = await import('../src/manifest.ts');
  const n = Number(o.requests);
  const root = resolve(o.models!);
  const texts = ['a red circle in the top left', 'a blue star at the bottom', 'a green heart on the right', 'a black square in the center'];
  console.log(`serve bench: ${n} sequential requests per line, loopback; load ${load()}`);
  console.log('| line | p50 | p95 | mean |');
  console.log('|---|---|---|---|');
  const row = (name: string, t: number[]) => console.log(`| ${name} | ${quantile(t, 0.5).toFixed(1)} ms | ${quantile(t, 0.95).toFixed(1)} ms | ${(t.reduce((a, b) => a + b, 0) / t.length).toFixed(1)} ms |`);
  for (const [name, kind] of [['stackgan-synth', 'stackgan'], ['wgan-synth', 'wgan']] as const) {
    const dir = join(root, name);
    let manifest;
    try {
      manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')));
    } catch (e) {
      console.log(`| ${name} | (no model: ${(e as Error).message.split('\n')[0]}) | | |`);
      continue;
    }
    // in-process: what one request costs without HTTP, queueing or worker hand-off
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 2 });
    const local: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      let out;
      if (kind === 'stackgan') {
        const spec = stackGanSpec(manifest);
        const feeds = stackGanFeeds(spec, encodeText(texts[i % texts.length], spec.text).ids, i);
        const f: Record<string, ort.Tensor> = {};
        for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.type, t.data, t.dims);
        out = (await session.run(f))[spec.stages['2'].output];
      } else {
        const spec = wganSpec(manifest);
        out = (await session.run({ [spec.inputs.noise]: new ort.Tensor('float32', seededNormals(i, NOISE_STREAM.z, 0, spec.zDim), [1, spec.zDim]) }))[spec.output];
      }
      const { images, width, height } = toRgb({ type: 'float32', dims: out.dims as number[], data: out.data as Float32Array });
      await encodePng(images[0], width, height);
      local.push(performance.now() - t0);
    }
    await session.release();
    row(`${name}: in-process ORT + PNG (no HTTP)`, local);

    // info: startServerChild waits for the server's "serving ... at URL" line
    const server = await startServerChild({ name, dir, kind }, ['--log-level', 'info']);
    try {
      const call = kind === 'stackgan'
        ? (i: number) => fetch(`${server.url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: name, text: texts[i % texts.length], seed: i }) })
        : (i: number) => fetch(`${server.url}/v1/sample?model=${name}&seed=${i}`);
      for (let i = 0; i < 10; i++) await (await call(i)).arrayBuffer();
      const t: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const r = await call(i);
        const body = await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${name}: HTTP ${r.status}: ${Buffer.from(body).toString().slice(0, 200)}`);
        t.push(performance.now() - t0);
      }
      row(`${name}: ${kind === 'stackgan' ? 'POST /v1/generate (Stage-II 64x64 PNG)' : 'GET /v1/sample n=1 (32x32 PNG)'}`, t);
      if (kind === 'wgan') {
        const g: number[] = [];
        for (let i = 0; i < Math.min(n, 50); i++) {
          const t0 = performance.now();
          await (await fetch(`${server.url}/v1/sample?model=${name}&seed=${i}&n=16`)).arrayBuffer();
          g.push(performance.now() - t0);
        }
        row(`${name}: GET /v1/sample n=16 (grid)`, g);
      }
    } finally {
      await server.stop();
    }
  }
  console.log(`load ${load()}`);
}

if (what === 'ring') await ring();
else if (what === 'ring-plot') await ringPlot();
else if (what === 'serve') await serve();
else {
  console.error(`unknown bench "${what}": use ring, ring-plot or serve`);
  process.exit(2);
}
