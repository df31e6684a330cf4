// The web console in a real browser (Debian's Chromium through playwright-core) against a real server on the
// shipped models: the Detect tab draws exactly the boxes the API returns (read back from the page and from
// the canvas pixels), the Live tab streams Chromium's fake camera (a clip of generated shape scenes) and
// shows results, fps and a dropped counter, the Generate tab shows StackGAN and WGAN images, the Models tab
// lists every model with live Prometheus figures. Screenshots go to test-results/console/ (gitignored).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { Runtime, type RuntimeLogger } from '../src/runtime/index.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { classColour } from '../src/vision/palette.ts';
import { hasChromium, launchChromium, openConsole, type Launched } from './helpers/browser.ts';
import { clipFrames, hasFfmpeg, writeClip } from './helpers/clip.ts';

// The callbacks given to page.evaluate run in the page; the test's own program has no DOM types (Node's fetch
// types clash with them), so the page's globals are declared loosely here, for this file only.
declare const document: any;
declare const window: any;
type HTMLCanvasElement = any;
type HTMLImageElement = any;

const ready = hasChromium() && hasFfmpeg();
const SHOTS = 'test-results/console';
const MODELS = ['yolov2-synth', 'yolo9000-synth', 'stackgan-synth', 'wgan-synth'];
const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };

let tmp: string;
let server: RunningServer;
let browser: Launched;
let page: Page;

interface Drawn { x: number; y: number; w: number; h: number; colour: string; class_id: number; label: string }

describe.skipIf(!ready)('web console in Chromium', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pinhole-console-'));
    mkdirSync(SHOTS, { recursive: true });
    const clip = { frames: 30, fps: 10, hold: 5, width: 320, height: 240 };
    const y4m = join(tmp, 'scenes.y4m');
    await writeClip(y4m, clipFrames(clip), clip);
    await writeClip(join(tmp, 'scenes.webm'), clipFrames(clip), clip);
    // the shipped models, and one broken folder the Models tab must show with its error
    const models = join(tmp, 'models');
    mkdirSync(join(models, 'broken'), { recursive: true });
    writeFileSync(join(models, 'broken', 'model.json'), '{"name": "broken"');
    for (const m of MODELS) symlinkSync(resolve('models', m), join(models, m), 'dir');
    const metrics = createMetrics();
    const runtime = await Runtime.create({ modelsDir: models, observer: metrics.observer, log: quiet });
    const app = await buildApp({ runtime, metrics });
    server = await startServer({ app, runtime, host: '127.0.0.1', port: 0 });
    browser = await launchChromium({ fakeVideo: y4m });
    let errors: string[];
    ({ page, errors } = await openConsole(browser, server.url));
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the console at / and /index.html, and the compiled script', async () => {
    for (const path of ['/', '/index.html']) {
      const r = await fetch(server.url + path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/text\/html/);
      expect(await r.text()).toMatch(/<script type="module" src="console.js">/);
    }
    const js = await fetch(`${server.url}/console.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(2000);
  });

  it('Detect: an uploaded examples/shapes.png shows the boxes the API returns', async () => {
    const png = readFileSync('examples/shapes.png');
    const api = await (await fetch(`${server.url}/v1/detect?model=yolov2-synth&thresh=0.25`, {
      method: 'POST', body: png, headers: { 'content-type': 'image/png' },
    })).json() as { detections: Array<{ class_id: number; class: string; box: { x1: number; y1: number; x2: number; y2: number } }> };
    expect(api.detections.length).toBeGreaterThan(0);

    await page.selectOption('#detect-model', 'yolov2-synth');
    await page.fill('#detect-thresh', '0.25');
    await page.setInputFiles('#detect-file', 'examples/shapes.png');
    await page.waitForSelector('#detect-canvas[data-state="done"]');
    const drawn = JSON.parse((await page.getAttribute('#detect-canvas', 'data-boxes'))!) as Drawn[];
    const scale = Number(await page.getAttribute('#detect-canvas', 'data-scale'));
    expect(drawn).toHaveLength(api.detections.length);
    api.detections.forEach((d, i) => {
      const b = drawn[i];
      expect(b.class_id).toBe(d.class_id);
      expect(b.label).toContain(d.class);
      expect(b.colour).toBe(classColour(d.class_id));
      expect(Math.abs(b.x - d.box.x1 * scale)).toBeLessThanOrEqual(1);
      expect(Math.abs(b.y - d.box.y1 * scale)).toBeLessThanOrEqual(1);
      expect(Math.abs(b.x + b.w - d.box.x2 * scale)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(b.y + b.h - d.box.y2 * scale)).toBeLessThanOrEqual(1.5);
    });
    // and the rectangles are really on the canvas: each box's bottom edge holds its class colour
    const onCanvas = await page.evaluate((boxes: Drawn[]) => {
      const c = document.getElementById('detect-canvas') as HTMLCanvasElement;
      const ctx = c.getContext('2d')!;
      const hex = (x: number, y: number) => {
        const [r, g, b] = ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data;
        return [r, g, b];
      };
      return boxes.map((b) => [0.25, 0.5, 0.75].map((f) => hex(b.x + f * b.w, b.y + b.h)));
    }, drawn);
    drawn.forEach((b, i) => {
      const want = [1, 3, 5].map((k) => parseInt(b.colour.slice(k, k + 2), 16));
      const hit = onCanvas[i].some((px) => px.every((v, c) => Math.abs(v - want[c]) <= 8));
      expect(hit, `box ${i} (${b.label}) edge pixels ${JSON.stringify(onCanvas[i])} vs ${b.colour}`).toBe(true);
    });
    expect(await page.textContent('#detect-json')).toContain('"detections"');
    expect(await page.textContent('#detect-timing')).toMatch(/infer [\d.]+ ms/);
    await page.screenshot({ path: `${SHOTS}/detect.png` });
  });

  it('Detect: hovering a YOLO9000 box shows its WordTree path', async () => {
    const api = await (await fetch(`${server.url}/v1/detect?model=yolo9000-synth`, {
      method: 'POST', body: readFileSync('examples/shapes.png'), headers: { 'content-type': 'image/png' },
    })).json() as { detections: Array<{ path: string[] }> };
    await page.selectOption('#detect-model', 'yolo9000-synth');
    // a changed model re-runs the last image
    await page.waitForFunction(() => (document.getElementById('detect-json')!.textContent ?? '').includes('yolo9000-synth'));
    await page.waitForSelector('#detect-canvas[data-state="done"]');
    const drawn = JSON.parse((await page.getAttribute('#detect-canvas', 'data-boxes'))!) as Array<Drawn & { path: string[] }>;
    expect(drawn.length).toBe(api.detections.length);
    // the smallest box: nothing drawn is nested inside it, so the hover picks it
    const b = drawn.reduce((x, y) => (y.w * y.h < x.w * x.h ? y : x));
    const canvas = (await page.$('#detect-canvas'))!;
    const rect = (await canvas.boundingBox())!;
    const k = rect.width / Number(await page.evaluate(() => (document.getElementById('detect-canvas') as HTMLCanvasElement).width));
    await page.mouse.move(rect.x + (b.x + b.w / 2) * k, rect.y + (b.y + b.h / 2) * k);
    await page.waitForSelector('#detect-hover:not([hidden])');
    const tip = await page.textContent('#detect-hover');
    expect(b.path.length).toBeGreaterThan(1);
    expect(tip).toContain(b.path.join(' > '));
    expect(api.detections.map((d) => d.path.join(' > '))).toContain(b.path.join(' > '));
  });

  it('Live: the fake camera streams over /v1/stream with results, fps > 0 and a dropped counter', async () => {
    await page.click('nav [data-tab="live"]');
    await page.selectOption('#live-model', 'yolov2-synth');
    await page.click('#live-camera');
    await page.waitForFunction(() => Number(document.getElementById('live-results')!.textContent) >= 8, null, { timeout: 60_000 });
    await page.waitForSelector('#live-overlay[data-boxes]');
    const stats = await page.evaluate(() => {
      const t = (id: string) => document.getElementById(id)!.textContent!;
      return { fps: t('live-fps-out'), latency: t('live-latency'), sent: t('live-sent'), results: t('live-results'), dropped: t('live-dropped'),
        boxes: JSON.parse((document.getElementById('live-overlay') as HTMLCanvasElement).dataset.boxes ?? '[]').length };
    });
    console.log(`console live stream (yolov2-synth, fake camera 320x240): ${JSON.stringify(stats)}`);
    expect(parseFloat(stats.fps)).toBeGreaterThan(0);
    expect(parseFloat(stats.latency)).toBeGreaterThan(0);
    expect(stats.dropped).toMatch(/^\d+$/);
    expect(Number(stats.results)).toBeLessThanOrEqual(Number(stats.sent));
    // the server's dropped count is what it replaced: results + dropped never exceed what was sent
    expect(Number(stats.results) + Number(stats.dropped)).toBeLessThanOrEqual(Number(stats.sent));
    await page.screenshot({ path: `${SHOTS}/live.png` });
    await page.click('#live-stop');
  });

  it('Live: a local video file streams too', async () => {
    await page.setInputFiles('#live-file', join(tmp, 'scenes.webm'));
    await page.waitForFunction(() => Number(document.getElementById('live-results')!.textContent) >= 5, null, { timeout: 60_000 });
    expect(parseFloat((await page.textContent('#live-fps-out'))!)).toBeGreaterThan(0);
    await page.click('#live-stop');
  });

  it('Generate: StackGAN stages side by side and a WGAN grid', async () => {
    await page.click('nav [data-tab="generate"]');
    await page.fill('#gen-seed', '7');
    await page.click('#gen-go');
    const size = (id: string) => page.evaluate((i) => {
      const img = document.getElementById(i) as HTMLImageElement;
      return img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0];
    }, id);
    await page.waitForFunction(() => (document.getElementById('gen-stage2') as HTMLImageElement).naturalWidth > 0
      && (document.getElementById('gen-stage1') as HTMLImageElement).naturalWidth > 0, null, { timeout: 60_000 });
    const [w1] = await size('gen-stage1');
    const [w2] = await size('gen-stage2');
    expect(w2).toBeGreaterThan(w1);
    await page.click('#wgan-go');
    // the status is written once the grid has decoded, a task after the image reports its size
    await page.waitForFunction(() => (document.getElementById('wgan-grid') as HTMLImageElement).naturalWidth > 0
      && !/sampling/.test(document.getElementById('gen-status')!.textContent ?? ''), null, { timeout: 60_000 });
    expect(await page.textContent('#gen-status')).toMatch(/\d+ sample\(s\), seed \d+/);
    await page.screenshot({ path: `${SHOTS}/generate.png`, fullPage: true });
  });

  it('Models: every model with status and provider, and live Prometheus figures', async () => {
    await page.click('nav [data-tab="models"]');
    await page.waitForFunction((n) => document.querySelectorAll('#models-list .card').length === n, MODELS.length + 1);
    const broken = await page.textContent('#models-list .card[data-model="broken"]');
    expect(broken).toMatch(/error/);
    expect(broken).toMatch(/model\.json/);
    // two refreshes apart, so images/s is a measured rate
    await page.waitForFunction(() => /images\/s\s*[\d.]+/.test(document.querySelector('#models-list .card[data-model="yolov2-synth"]')?.textContent ?? ''), null, { timeout: 15_000 });
    const card = await page.textContent('#models-list .card[data-model="yolov2-synth"]');
    expect(card).toMatch(/ready/);
    expect(card).toMatch(/provider\s*cpu/);
    expect(card).toMatch(/queue depth\s*\d/);
    expect(card).toMatch(/map50/);
    const total = Number(/images \(total\)\s*(\d+)/.exec(card!)?.[1]);
    expect(total).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/models.png`, fullPage: true });
  });

  it('fits a phone screen', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.url}/#detect`);
    await phone.waitForSelector('body[data-models="loaded"]');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: `${SHOTS}/phone.png` });
    await phone.close();
  });
});
