// A cold start in two halves (RuntimeOptions.rampUp, src/runtime/ramp-up.ts): the server listens once each
// model has one warm session on worker 0, answers from it, and the other workers and worker 0's solo
// sessions come up after, without an error or a request left waiting for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import { whenQuiet } from '../src/runtime/ramp-up.ts';
import type { BatchEvent } from '../src/runtime/types.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const quiet = { info() {}, warn() {}, error() {} };
const PLAN = { workers: 2, intraOpThreads: 1, soloThreads: 2 };

let root: string;
let png: Buffer;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-ramp-'));
  writeTinyModel(root, 'tiny', { seed: 3 });
  writeTinyModel(root, 'tiny2', { seed: 4 });
  png = await sharp({ create: { width: 48, height: 40, channels: 3, background: { r: 30, g: 160, b: 90 } } }).png().toBuffer();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a server that listens before its whole thread plan is up', () => {
  let runtime: Runtime;
  let server: RunningServer;
  const batches: BatchEvent[] = [];
  const infos: string[] = [];
  beforeAll(async () => {
    const metrics = createMetrics();
    const observer = { ...metrics.observer, onBatch: (e: BatchEvent) => { batches.push(e); metrics.observer.onBatch?.(e); } };
    const log = { ...quiet, info: (m: string) => infos.push(m) };
    const started = await Runtime.start({ modelsDir: root, ...PLAN, rampUp: true, observer, log });
    runtime = started.runtime;
    await started.loaded;
    server = await startServer({ app: await buildApp({ runtime, metrics }), runtime, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  const detect = async (model: string) => {
    const r = await fetch(`${server.url}/v1/detect?model=${model}`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    return { status: r.status, body: await r.json() as { detections?: unknown[]; error?: unknown } };
  };

  /**
   * Concurrent requests for `model` until one of its batches runs on worker 1 (which worker is free when is the
   * scheduler's business, and the tiny model runs in well under a millisecond): every answer must be a 200.
   */
  const onWorker1 = async (model: string): Promise<boolean> => {
    for (let round = 0; round < 30; round++) {
      batches.length = 0;
      const answers = await Promise.all(Array.from({ length: 8 }, () => detect(model)));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      if (batches.some((b) => b.worker === 1 && b.model === model)) return true;
    }
    return false;
  };

  it('is ready, says so everywhere, and answers from worker 0 alone before the ramp-up', async () => {
    expect(runtime.planUp).toBe(false);
    expect(runtime.threads).toEqual(PLAN);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    for (const m of ['tiny', 'tiny2']) expect((await fetch(`${server.url}/v2/models/${m}/ready`)).status).toBe(200);
    const listed = await (await fetch(`${server.url}/v1/models`)).json() as { models: Array<{ name: string; status: string }> };
    expect(listed.models.map((m) => [m.name, m.status])).toEqual([['tiny', 'ready'], ['tiny2', 'ready']]);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/pinhole_model_ready\{model="tiny"\} 1/);
    const answers = await Promise.all(['tiny', 'tiny2', 'tiny', 'tiny2'].map(detect));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(batches.length).toBeGreaterThanOrEqual(4);
    // one worker, no solo session yet
    expect(batches.every((b) => b.worker === 0 && !b.solo)).toBe(true);
  });

  it('answers every request during the ramp-up, then runs the whole plan: worker 1 and the solo session', async () => {
    batches.length = 0;
    let ramped = false;
    const ramp = runtime.rampUp().then(() => { ramped = true; });
    const statuses: number[] = [];
    // two clients back to back until the plan is up: requests keep arriving all through it
    await Promise.all([0, 1].map(async (c) => {
      while (!ramped) statuses.push((await detect(c ? 'tiny2' : 'tiny')).status);
    }));
    await ramp;
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(runtime.planUp).toBe(true);
    expect(infos.some((m) => /thread plan up in \d+ ms: 2 of 2 worker\(s\) x 1 thread\(s\) \+ a 2-thread solo session/.test(m))).toBe(true);

    // a lone request runs solo, on worker 0 with every core
    batches.length = 0;
    expect((await detect('tiny')).status).toBe(200);
    expect(batches).toMatchObject([{ model: 'tiny', worker: 0, solo: true }]);
    // requests at once reach worker 1 too, for either model: it holds both
    for (const m of ['tiny', 'tiny2']) expect(await onWorker1(m)).toBe(true);
  });

  it('a model reloaded after the ramp-up loads into every worker, with its solo session', async () => {
    await runtime.reload('tiny');
    batches.length = 0;
    expect((await detect('tiny')).status).toBe(200);
    expect(batches).toMatchObject([{ model: 'tiny', worker: 0, solo: true }]);
    expect(await onWorker1('tiny')).toBe(true);
  });
});

describe('pinhole serve (child process), two workers and a solo session', () => {
  it('answers as soon as it listens, then logs the whole plan up once no request has run for a moment; the trace marks each phase', async () => {
    const child = spawn(process.execPath, ['bin/pinhole.js', 'serve', '--models', root, '--port', '0', '--workers', '2', '--threads', '1', '--solo-threads', '2', '--no-ort-cache'], {
      cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PINHOLE_TRACE_START: '1' },
    });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const waitFor = async (re: RegExp) => {
      const t0 = Date.now();
      while (!re.test(out) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 10));
      return re.exec(out);
    };
    try {
      const url = (await waitFor(/serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/))?.[1];
      expect(url, out).toBeDefined();
      expect(out).toMatch(/serving on worker 0 until the rest of the plan is up/);
      const post = async () => (await fetch(`${url}/v1/detect?model=tiny`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } })).status;
      // at once: while the request runs the plan is not up, and it comes only once the server is quiet
      expect(await post()).toBe(200);
      expect(out).not.toMatch(/thread plan up/);
      expect(await waitFor(/thread plan up in \d+ ms: 2 of 2 worker\(s\) x 1 thread\(s\) \+ a 2-thread solo session/), out).not.toBeNull();
      expect(await post()).toBe(200);
      // the marks of the main thread and of both workers, in epoch ms
      for (const mark of ['t0 main.js', 'worker 0: modules loaded', 'worker 1: model 1 warmed', 'worker 0: solo session of model 1 created', 'serve: listening', 'runtime: thread plan up']) {
        expect(out).toMatch(new RegExp(`^\\[start\\] \\d+\\.\\d .*${mark}`, 'm'));
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('rampUpWhenQuiet', () => {
  it('waits for a quiet moment', async () => {
    const { runtime, loaded } = await Runtime.start({ modelsDir: root, only: ['tiny'], ...PLAN, rampUp: true, log: quiet });
    try {
      await loaded;
      const t0 = performance.now();
      await runtime.rampUpWhenQuiet(150, 60_000);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      expect(runtime.planUp).toBe(true);
    } finally {
      await runtime.close();
    }
  });

  it('starts at once when requests wait for a worker, and every request is answered', async () => {
    const { runtime, loaded } = await Runtime.start({ modelsDir: root, only: ['tiny'], ...PLAN, rampUp: true, log: quiet });
    try {
      await loaded;
      const t0 = performance.now();
      const ramp = runtime.rampUpWhenQuiet(60_000, 60_000);
      const answers = await Promise.all(Array.from({ length: 6 }, () => runtime.detect('tiny', png)));
      expect(answers).toHaveLength(6);
      // not the minute of quiet: requests that waited called for the rest of the plan
      await ramp;
      expect(runtime.planUp).toBe(true);
      expect(performance.now() - t0).toBeLessThan(30_000);
    } finally {
      await runtime.close();
    }
  });

  it('a runtime closed while waiting or ramping up closes, the plan left as it was', async () => {
    const a = await Runtime.start({ modelsDir: root, only: ['tiny'], ...PLAN, rampUp: true, log: quiet });
    await a.loaded;
    void a.runtime.rampUpWhenQuiet(60_000, 60_000);
    await a.runtime.close();
    expect(a.runtime.planUp).toBe(false);
    const b = await Runtime.start({ modelsDir: root, only: ['tiny'], ...PLAN, rampUp: true, log: quiet });
    await b.loaded;
    const ramp = b.runtime.rampUp();
    await b.runtime.close();
    await ramp;
  });

  it('without rampUp the whole plan is up before the models are loaded', async () => {
    const rt = await Runtime.create({ modelsDir: root, only: ['tiny'], ...PLAN, log: quiet });
    try {
      expect(rt.planUp).toBe(true);
      await rt.rampUp();
      expect(rt.threads).toEqual(PLAN);
    } finally {
      await rt.close();
    }
  });
});

describe('whenQuiet', () => {
  const never = () => false;
  it('resolves after quietMs of idleness, counting from the last busy moment', async () => {
    let idle = false;
    const t0 = performance.now();
    setTimeout(() => { idle = true; }, 80);
    await whenQuiet(() => idle, never, never, 60, 10_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(130);
  });
  it('resolves at once when work waits, and at the latest after maxWaitMs', async () => {
    let t0 = performance.now();
    await whenQuiet(() => false, () => true, never, 10_000, 10_000);
    expect(performance.now() - t0).toBeLessThan(200);
    t0 = performance.now();
    await whenQuiet(() => false, never, never, 10_000, 120);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(115);
    expect(took).toBeLessThan(2_000);
  });
  it('resolves when stopped', async () => {
    let stop = false;
    setTimeout(() => { stop = true; }, 30);
    const t0 = performance.now();
    await whenQuiet(() => false, never, () => stop, 10_000, 10_000);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
