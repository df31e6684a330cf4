// The web console's Live tab as a person sees it: Chromium's fake camera (a .y4m clip of generated shape
// scenes) streamed by the page over /v1/stream to `pinhole serve` (child process), for --duration seconds.
// Prints what the page shows: processed fps, end-to-end latency (capture -> result drawn), frames sent,
// results, dropped (newest wins) and frames the page held back; figures read from the page once a second.
//
//   node --import tsx bench/console.ts [--models models] [--model yolov2-synth] [--duration 20] [--send-fps 15]
//     [--width 480] [--size 640x480]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hasChromium, launchChromium } from '../test/helpers/browser.ts';
import { clipFrames, hasFfmpeg, writeClip } from '../test/helpers/clip.ts';
import { loadAverage, pickDetector, startServerChild, threadsOf } from './server-child.ts';

const { values: o } = parseArgs({
  options: {
    models: { type: 'string', default: 'models' },
    model: { type: 'string', default: 'yolov2-synth' },
    duration: { type: 'string', default: '20' },
    'send-fps': { type: 'string', default: '15' },
    width: { type: 'string', default: '480' },
    size: { type: 'string', default: '640x480' },
  },
});

if (!hasChromium() || !hasFfmpeg()) {
  console.error('bench/console: needs Debian\'s chromium and ffmpeg (apt-get install chromium ffmpeg)');
  process.exit(1);
}
const model = pickDetector(o.models, o.model);
if (!model) {
  console.error(`bench/console: no detection model folder "${o.model}" under ${o.models}`);
  process.exit(1);
}
const [width, height] = o.size.split('x').map(Number);
const tmp = mkdtempSync(join(tmpdir(), 'pinhole-bench-console-'));
const clip = { frames: 60, width, height, fps: 30, hold: 10 };
const y4m = join(tmp, 'camera.y4m');
await writeClip(y4m, clipFrames(clip), clip);
const server = await startServerChild(model, ['--log-level', 'info']);
const browser = await launchChromium({ fakeVideo: y4m });
// Stand-in declarations for the page's globals inside page.evaluate (this program has no DOM types).
declare const document: { getElementById(id: string): { textContent: string | null } };

interface Reading { t: number; results: number; sent: number; dropped: number; held: number; latency: number }

try {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/#live`);
  await page.waitForSelector('body[data-models="loaded"]');
  await page.selectOption('#live-model', model.name);
  await page.selectOption('#live-fps', o['send-fps']);
  await page.selectOption('#live-width', o.width);
  await page.click('#live-camera');
  await page.waitForFunction(() => Number(document.getElementById('live-results').textContent) >= 3, null, { timeout: 120_000 });
  // a string, not a function: tsx wraps named functions in a helper the page does not have
  const read = (): Promise<Reading> => page.evaluate(`(() => {
    const t = (id) => document.getElementById(id).textContent ?? '';
    return { t: performance.now(), results: Number(t('live-results')), sent: Number(t('live-sent')), dropped: Number(t('live-dropped')),
      held: Number(t('live-held')), latency: parseFloat(t('live-latency')) };
  })()`);
  const readings: Reading[] = [await read()];
  const seconds = Number(o.duration);
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    readings.push(await read());
  }
  const a = readings[0], b = readings[readings.length - 1];
  const secs = (b.t - a.t) / 1000;
  const lat = readings.map((r) => r.latency).filter(Number.isFinite).sort((x, y) => x - y);
  console.log(`bench/console: ${model.name}, fake camera ${width}x${height}, page sends ${o['send-fps']} fps at ${o.width} px wide, `
    + `server ${threadsOf(server.log())}; load average ${loadAverage()}`);
  console.log(`  processed ${((b.results - a.results) / secs).toFixed(1)} fps over ${secs.toFixed(0)} s; `
    + `sent ${((b.sent - a.sent) / secs).toFixed(1)} fps; dropped ${b.dropped - a.dropped}, held back by the page ${b.held - a.held}`);
  console.log(`  latency capture -> result (page's mean of the last 20, read each second): median ${lat[Math.floor(lat.length / 2)].toFixed(0)} ms, `
    + `min ${lat[0].toFixed(0)}, max ${lat[lat.length - 1].toFixed(0)}`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
