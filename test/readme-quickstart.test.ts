// README quick start, run the way a user runs it from the repository as checked out: `npm start`
// (package.json's start script, with models/ as shipped), then the curl commands of README's
// "Quick start" section, read from README.md itself so that README and test cannot drift apart.
// Only the port of the URLs is rewritten (the server gets a free one through PORT).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README_URL = 'http://127.0.0.1:8080';

/** The `curl ...` commands (backslash continuations joined) in the sh blocks of README's "## Quick start". */
function quickStartCurls(readme: string): string[] {
  const at = readme.indexOf('\n## Quick start\n');
  if (at < 0) throw new Error('README.md has no "## Quick start" section');
  const end = readme.indexOf('\n## ', at + 1);
  const section = readme.slice(at, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n/g, ' ');
    for (const line of joined.split('\n')) if (/^curl\s/.test(line.trim())) commands.push(line.trim());
  }
  return commands;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

interface CurlResult { code: number; status: number; body: string; stderr: string }

/**
 * Runs one README command through sh in the repository root. A `curl` shell function appends the HTTP
 * status as a last line (curl's --write-out), so the command text itself stays as README has it.
 */
function runCurl(command: string): Promise<CurlResult> {
  const script = `curl() { command curl "$@" --write-out '\\n%{http_code}'; }\n${command}\n`;
  return new Promise((resolve) => {
    execFile('sh', ['-c', script], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const cut = stdout.lastIndexOf('\n');
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        status: Number(stdout.slice(cut + 1)),
        body: stdout.slice(0, Math.max(cut, 0)),
        stderr,
      });
    });
  });
}

/** SPEC's detection response: model, image size, detections (class id/name, score, pixel box), timings. */
function expectDetectionResponse(r: any): void {
  expect(typeof r.model).toBe('string');
  expect(Number.isInteger(r.image?.width) && r.image.width > 0).toBe(true);
  expect(Number.isInteger(r.image?.height) && r.image.height > 0).toBe(true);
  expect(Array.isArray(r.detections)).toBe(true);
  for (const d of r.detections) {
    expect(Number.isInteger(d.class_id) && d.class_id >= 0).toBe(true);
    expect(typeof d.class).toBe('string');
    expect(d.score).toBeGreaterThan(0);
    expect(d.score).toBeLessThanOrEqual(1);
    const b = d.box;
    for (const v of [b.x1, b.y1, b.x2, b.y2]) expect(Number.isFinite(v)).toBe(true);
    // boxes are not clipped (as in darknet), but each must lie at least partly on the image
    expect(b.x1 < b.x2 && b.y1 < b.y2).toBe(true);
    expect(b.x1 < r.image.width && b.x2 > 0 && b.y1 < r.image.height && b.y2 > 0).toBe(true);
  }
  for (const k of ['decode', 'queue', 'infer', 'post']) expect(typeof r.timing_ms?.[k]).toBe('number');
}

const commands = quickStartCurls(readFileSync(new URL('../README.md', import.meta.url), 'utf8'));
const startScript = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts?.start;

let server: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let port = 0;
let output = '';

beforeAll(async () => {
  port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.HOST; // README's URLs are on 127.0.0.1, the default host
  // its own process group, so that afterAll can remove whatever a failed test left running
  server = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  server.stdout!.on('data', (b) => { output += b; });
  server.stderr!.on('data', (b) => { output += b; });
  exited = new Promise((resolve) => server!.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => { gone = true; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 240_000;
  for (;;) {
    if (gone) throw new Error(`npm start exited before the server was up:\n${output}`);
    if (await fetch(`${base}/v2/health/live`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`server not listening after 240 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // `serve` loads every model folder before it listens, so readiness is settled by now (false: no model serves)
  const ready = await fetch(`${base}/v2/health/ready`);
  if (ready.status !== 200) throw new Error(`/v2/health/ready: ${ready.status} ${await ready.text()}\n${output}`);
});

afterAll(() => {
  // a no-op when the SIGTERM test passed; otherwise npm, sh or the server may still be running
  try {
    if (server?.pid) process.kill(-server.pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
});

describe('README quick start against `npm start`', () => {
  it('package.json starts the server; README has curl commands for 127.0.0.1:8080, posting examples/shapes.png and astronaut.png', () => {
    expect(startScript).toMatch(/\bbin\/pinhole\.js serve\b/);
    expect(commands.length).toBeGreaterThanOrEqual(1);
    for (const c of commands) expect(c).toContain(README_URL);
    expect(commands.some((c) => c.includes('@examples/shapes.png'))).toBe(true);
    expect(commands.some((c) => c.includes('/astronaut.png') && c.includes('model=tiny-face'))).toBe(true);
  });

  it('every README curl gets a 200 detection response; examples/shapes.png gets at least one box, astronaut.png its face', async () => {
    const shapes = await sharp(readFileSync(new URL('../examples/shapes.png', import.meta.url))).metadata();
    for (const command of commands) {
      const r = await runCurl(command.replaceAll(README_URL, `http://127.0.0.1:${port}`));
      const what = `${command}\n-> curl exit ${r.code}, HTTP ${r.status}: ${r.body.slice(0, 400)} ${r.stderr}`;
      expect(r.code, what).toBe(0);
      expect(r.status, what).toBe(200);
      const body = JSON.parse(r.body);
      expectDetectionResponse(body);
      if (command.includes('@examples/shapes.png')) {
        expect(body.image, what).toEqual({ width: shapes.width, height: shapes.height });
        expect(body.detections.length, what).toBeGreaterThanOrEqual(1);
        console.log(`[readme-quickstart] examples/shapes.png on ${body.model}: ${body.detections
          .map((d: any) => `${d.class} ${d.score.toFixed(2)}`).join(', ')}`);
      }
      if (command.includes('/astronaut.png')) {
        // one face, in the upper middle of the 512x512 picture
        expect(body.detections.map((d: any) => d.class), what).toEqual(['face']);
        const b = body.detections[0].box;
        expect((b.x1 + b.x2) / 2, what).toBeGreaterThan(180);
        expect((b.x1 + b.x2) / 2, what).toBeLessThan(250);
        expect((b.y1 + b.y2) / 2, what).toBeLessThan(160);
      }
    }
  });

  it('SIGTERM to `npm start` stops the server cleanly: exit 0, port closed', async () => {
    server!.kill('SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    expect(output).toContain('SIGTERM: finishing in-flight requests');
    expect(await accepts(port)).toBe(false);
  });
});
