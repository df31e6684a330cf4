import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import type { DetectionResponse } from '../src/runtime/index.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/pinhole.js', import.meta.url));

function pinhole(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let root: string;
let model: string;
const img: Record<string, string> = {};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-cli-'));
  model = writeTinyModel(join(root, 'models'), 'tiny');
  const mk = async (name: string, w: number, h: number, fmt: 'jpeg' | 'png') => {
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 29 + (i % 7) * 53) & 0xff;
    img[name] = join(root, name);
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })[fmt]().toFile(img[name]);
  };
  await mk('a.jpg', 120, 80, 'jpeg');
  await mk('b.png', 50, 90, 'png');
  img.bad = join(root, 'bad.jpg');
  writeFileSync(img.bad, 'this is not a jpeg');
  img.empty = join(root, 'empty.png');
  writeFileSync(img.empty, '');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('pinhole detect', () => {
  it('--json prints one detection response per image, in argument order, identical to the runtime', async () => {
    const r = await pinhole('detect', model, img['a.jpg'], img['b.png'], '--json', '--thresh', '0.05', '--max-det', '5');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as DetectionResponse);
    expect(a.image).toEqual({ width: 120, height: 80 });
    expect(b.image).toEqual({ width: 50, height: 90 });
    for (const x of [a, b]) {
      expect(x.model).toBe('tiny');
      expect(Object.keys(x.timing_ms).sort()).toEqual(['decode', 'infer', 'post', 'queue']);
      expect(x.detections.length).toBeGreaterThan(0);
      expect(x.detections.length).toBeLessThanOrEqual(5);
    }
    // the same code path as the server: the in-process runtime gives the same boxes
    const rt = await Runtime.create({ modelsDir: join(root, 'models'), log: { info() {}, warn() {}, error() {} } });
    try {
      const { readFileSync } = await import('node:fs');
      const ref = await rt.detect('tiny', readFileSync(img['a.jpg']), { thresh: 0.05, maxDet: 5 });
      expect(a.detections).toEqual(ref.detections);
    } finally {
      await rt.close();
    }
  });

  it('human output lists each image and its objects', async () => {
    const r = await pinhole('detect', model, img['a.jpg'], '--thresh', '0.05', '--classes', '0,1,2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${img['a.jpg'].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 120x80, \\d+ objects?`));
    expect(r.stdout).toMatch(/\n {2}class\d +\d+\.\d%/);
  });

  it('a bad image fails with exit 1 and one line; the good ones are still printed', async () => {
    const r = await pinhole('detect', model, img['a.jpg'], img.bad, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.jpg: not a supported image/);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const e = await pinhole('detect', model, img.empty);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/empty\.png: empty image/);
    const m = await pinhole('detect', join(root, 'models', 'nope'), img['a.jpg']);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/no model folder/);
  });

  it('bad options exit 2 with one line', async () => {
    for (const args of [['--thresh', '1.5'], ['--nms', 'x'], ['--max-det', '0'], ['--classes', '1,a'], ['--classes', '9'], ['--ep', 'tpu']]) {
      const r = await pinhole('detect', model, img['a.jpg'], ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});
