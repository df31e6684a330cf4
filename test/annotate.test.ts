// Annotated output: the SVG overlay drawn by sharp (box edges in the class colour), the runtime's raw-pixel
// entry (same detections as the encoded image), POST /v1/detect?render=1, and `pinhole detect` on folders,
// globs and stdin with --save, and on a video (frames in = frames out, detections where the shapes are).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { annotate, pickFormat } from '../src/runtime/annotate.ts';
import { Runtime, type Detection, type RuntimeLogger } from '../src/runtime/index.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { classColour } from '../src/vision/palette.ts';
import { clipFrames, countFrames, hasFfmpeg, writeClip } from './helpers/clip.ts';

const BIN = fileURLToPath(new URL('../bin/pinhole.js', import.meta.url));
const MODEL = 'models/yolov2-synth';
const SHAPES = readFileSync('examples/shapes.png');
const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };

function pinhole(args: string[], o: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [BIN, ...args], { timeout: 120_000, env: o.env ?? process.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (o.input) p.stdin!.end(o.input);
  });
}

const hex = (c: string) => [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));

async function pixel(img: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (Math.floor(y) * info.width + Math.floor(x)) * 3;
  return [data[i], data[i + 1], data[i + 2]];
}

/** some point of the box's bottom edge is in the class colour (the 2 px stroke centred on y2 covers row floor(y2) whole) */
async function edgeInColour(img: Buffer, d: Detection, tol: number): Promise<boolean> {
  const want = hex(classColour(d.class_id));
  for (const f of [0.25, 0.5, 0.75]) {
    const px = await pixel(img, d.box.x1 + f * (d.box.x2 - d.box.x1), d.box.y2);
    if (px.every((v, c) => Math.abs(v - want[c]) <= tol)) return true;
  }
  return false;
}

let tmp: string;
let runtime: Runtime;
let server: RunningServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pinhole-annotate-'));
  runtime = await Runtime.create({ modelsDir: 'models', only: ['yolov2-synth'], log: quiet });
  const app = await buildApp({ runtime });
  server = await startServer({ app, runtime, host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('annotate', () => {
  it('draws each box in its class colour with sharp, keeping the picture size and format', async () => {
    const dets: Detection[] = [
      { class_id: 3, class: 'star', score: 0.9, box: { x1: 20, y1: 40, x2: 120, y2: 140 } },
      { class_id: 14, class: 'heart', score: 0.5, box: { x1: 150, y1: 150, x2: 240, y2: 250 } },
    ];
    const out = await annotate(SHAPES, dets, 'png');
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 256]);
    for (const d of dets) expect(await edgeInColour(out, d, 0)).toBe(true);
    // the input is untouched away from the boxes
    expect(await pixel(out, 5, 5)).toEqual(await pixel(SHAPES, 5, 5));
    expect((await sharp(await annotate(SHAPES, dets, 'jpeg')).metadata()).format).toBe('jpeg');
  });

  it('answers in the format Accept names first, else the input\'s', () => {
    expect(pickFormat('image/png', 'jpeg')).toBe('png');
    expect(pickFormat('image/jpeg, image/png', 'png')).toBe('jpeg');
    expect(pickFormat('*/*', 'png')).toBe('png');
    expect(pickFormat(undefined, 'webp')).toBe('jpeg');
  });
});

describe('raw pixels into the runtime', () => {
  it('gives the same detections as the encoded image', async () => {
    const { data, info } = await sharp(SHAPES).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const fromPng = await runtime.detect('yolov2-synth', SHAPES);
    const fromRaw = await runtime.detect('yolov2-synth', { data, width: info.width, height: info.height, channels: 3 });
    expect(fromPng.detections.length).toBeGreaterThan(0);
    expect(fromRaw.detections).toEqual(fromPng.detections);
    expect(fromRaw.image).toEqual(fromPng.image);
  });

  it('refuses a buffer of the wrong size as bad_image', async () => {
    await expect(runtime.detect('yolov2-synth', { data: new Uint8Array(10), width: 4, height: 4, channels: 3 })).rejects.toMatchObject({ code: 'bad_image' });
  });
});

describe('POST /v1/detect?render=1', () => {
  const post = (query: string, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/detect?model=yolov2-synth${query}`, {
    method: 'POST', body: SHAPES, headers: { 'content-type': 'image/png', ...headers },
  });

  it('answers the annotated image, boxes where the JSON answer puts them', async () => {
    const json = await (await post('')).json() as { detections: Detection[] };
    const res = await post('&render=1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Number(res.headers.get('x-detections'))).toBe(json.detections.length);
    const img = Buffer.from(await res.arrayBuffer());
    expect((await sharp(img).metadata()).width).toBe(256);
    let hits = 0;
    for (const d of json.detections) if (await edgeInColour(img, d, 0)) hits++;
    // a later box or label may cover an edge; most edges are visible
    expect(hits).toBeGreaterThanOrEqual(Math.ceil(json.detections.length * 0.6));
  });

  it('takes JPEG from Accept, JSON without render, and refuses a bad flag with 400', async () => {
    const jpg = await post('&render=true', { accept: 'image/jpeg' });
    expect(jpg.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await jpg.arrayBuffer())).metadata()).format).toBe('jpeg');
    const off = await post('&render=0');
    expect(off.headers.get('content-type')).toMatch(/json/);
    const bad = await post('&render=yes');
    expect(bad.status).toBe(400);
    expect((await bad.json() as { error: { code: string } }).error.code).toBe('bad_parameter');
  });
});

describe('pinhole detect inputs and --save', () => {
  it('takes a folder, a glob and stdin, and writes each annotated', async () => {
    const dir = join(tmp, 'imgs');
    mkdirSync(dir);
    copyFileSync('examples/shapes.png', join(dir, 'a.png'));
    copyFileSync('examples/shapes.png', join(dir, 'b.png'));
    const jpg = await sharp(SHAPES).jpeg().toBuffer();
    const out = join(tmp, 'saved');
    const r = await pinhole(['detect', MODEL, dir, join(dir, 'a*.png'), '-', '--json', '--save', out], { input: jpg });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.detections.length).toBeGreaterThan(0);
    expect(readdirSync(out).sort()).toEqual(['a-2.png', 'a.png', 'b.png', 'stdin.jpg']);
    const saved = readFileSync(join(out, 'a.png'));
    expect(await edgeInColour(saved, lines[0].detections[0], 0)).toBe(true);
  });

  it('names an input that matches nothing (exit 2)', async () => {
    const r = await pinhole(['detect', MODEL, join(tmp, 'nothing-*.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no file matches/);
  });
});

describe.skipIf(!hasFfmpeg())('pinhole detect on a video', () => {
  const clip = { frames: 24, fps: 8, hold: 4, blank: (i: number) => i >= 8 && i < 12 };

  it('writes every frame annotated and JSON lines; detections on the frames with shapes only', async () => {
    const frames = clipFrames(clip);
    const file = join(tmp, 'clip.mp4');
    await writeClip(file, frames, clip);
    expect(countFrames(file)).toBe(24);
    const out = join(tmp, 'video', 'out.mp4');
    const r = await pinhole(['detect', MODEL, file, '--save', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/24 frames 320x240, \d+ detections, [\d.]+ frames\/s/);
    expect(countFrames(out)).toBe(24);
    const lines = readFileSync(join(tmp, 'video', 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.frame)).toEqual([...Array(24).keys()]);
    expect(lines[9].time).toBeCloseTo(9 / 8, 6);
    const withShapes = lines.filter((_, i) => frames[i].shapes > 0);
    const blank = lines.filter((_, i) => frames[i].shapes === 0);
    expect(blank).toHaveLength(4);
    for (const l of blank) expect(l.detections).toEqual([]);
    expect(withShapes.filter((l) => l.detections.length > 0).length).toBe(withShapes.length);
  });

  it('reads a video recorded with a quarter turn (a phone\'s rotation metadata) upright', async () => {
    const file = join(tmp, 'rotated.mp4');
    const r0 = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', join(tmp, 'clip.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', file]);
    expect(r0.status).toBe(0);
    const out = join(tmp, 'rotated-out.mp4');
    const r = await pinhole(['detect', MODEL, file, '--save', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/24 frames 240x320/);
    expect(countFrames(out)).toBe(24);
    const dims = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', out], { encoding: 'utf8' });
    expect(dims.stdout.trim()).toBe('240,320');
    const lines = readFileSync(join(tmp, 'rotated-out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const frames = clipFrames(clip);
    // sideways frames read at the wrong stride would be noise: the shapes are still found, the blanks stay empty
    expect(lines.filter((l, i) => frames[i].shapes > 0 && l.detections.length > 0).length).toBe(20);
    expect(lines.filter((l, i) => frames[i].shapes === 0 && l.detections.length === 0).length).toBe(4);
  });

  it('without ffmpeg on PATH: one line saying how to install it', async () => {
    const empty = join(tmp, 'empty-path');
    mkdirSync(empty, { recursive: true });
    const r = await pinhole(['detect', MODEL, join(tmp, 'clip.mp4')], { env: { ...process.env, PATH: empty } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ffmpeg not found on PATH: install it \(Debian\/Ubuntu: apt-get install ffmpeg/);
  });
});
