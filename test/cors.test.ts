// Browser access from other origins: `--cors` (the same list as --allowed-origins), CORS headers and
// preflights, the Origin check of stream upgrades, and headless Chromium (playwright-core) running a page
// served from another origin (a second http server, named allowed.test by Chromium's resolver) that calls
// /v1/detect through CORS, and one on an unlisted origin (other.test) that the browser refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { CHROMIUM, hasChromium, launchChromium, type Launched } from './helpers/browser.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { FakeRuntime, pngBytes } from './server-fakes.ts';

let server: RunningServer;
let pages: Server[] = [];
let allowed: string; // the listed page origin
let other: string; // an unlisted one
let png: Buffer;

/** A tiny page server: the page itself and the image it will send, from its own origin. */
async function pageServer(name: string): Promise<{ srv: Server; origin: string }> {
  const srv = createServer((req, res) => {
    if (req.url === '/img.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other origin</title><p>page');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  // not a loopback name: loopback pages are allowed by default (origin.ts), these must be listed to pass
  return { srv, origin: `http://${name}:${(srv.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  png = await pngBytes(40, 30);
  const a = await pageServer('allowed.test');
  const b = await pageServer('other.test');
  pages = [a.srv, b.srv];
  allowed = a.origin;
  other = b.origin;
  const rt = new FakeRuntime();
  const app = await buildApp({ runtime: rt, originPolicy: { origins: [allowed, 'https://nvr.example:8443'], hosts: 'loopback' } });
  server = await startServer({ app, runtime: rt, host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await server.close();
  await Promise.all(pages.map((p) => new Promise((r) => p.close(r))));
});

describe('--cors', () => {
  const serve = (...args: string[]) => spawnSync(process.execPath, ['bin/pinhole.js', 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('a bad origin: one line on stderr, exit 2', () => {
    const r = serve('--cors', 'nvr.example');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--cors: origin "nvr.example" must look like http\(s\):\/\/host\[:port\]/);
  });

  it('is the same list as --allowed-origins: giving both is refused', () => {
    const r = serve('--cors', 'https://a.example', '--allowed-origins', 'https://b.example', '--models', 'models');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--cors and --allowed-origins are the same list/);
  });
});

describe('CORS headers and the WebSocket Origin check', () => {
  const preflight = (origin: string) => server.app.inject({ method: 'OPTIONS', url: '/v1/detect',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });

  it('a listed origin gets its preflight answered and the CORS headers on the answer', async () => {
    const p = await preflight(allowed);
    expect(p.statusCode).toBe(204);
    expect(p.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(p.headers['access-control-allow-methods'])).toContain('POST');
    const r = await server.app.inject({ method: 'POST', url: '/v1/detect', headers: { origin: allowed, 'content-type': 'image/png' }, payload: png });
    expect(r.statusCode).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(r.headers['access-control-expose-headers'])).toMatch(/X-Seed/i);
  });

  it('an unlisted origin gets no CORS headers: preflight 405 in the error shape; requests without Origin are unaffected', async () => {
    const p = await preflight(other);
    expect(p.statusCode).toBe(405);
    expect(p.headers['access-control-allow-origin']).toBeUndefined();
    expect(p.json().error.code).toBe('method_not_allowed');
    const r = await server.app.inject({ method: 'GET', url: '/v1/models', headers: { origin: other } });
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const plain = await server.app.inject({ method: 'GET', url: '/v1/models' });
    expect(plain.statusCode).toBe(200);
  });

  it('the default (no --cors) allows no cross-origin page but loopback ones', async () => {
    const app = await buildApp({ runtime: new FakeRuntime() });
    const pre = (origin: string) => app.inject({ method: 'OPTIONS', url: '/v1/detect', headers: { origin, host: '127.0.0.1:8080', 'access-control-request-method': 'POST' } });
    const p = await pre(allowed);
    expect(p.statusCode).toBe(405);
    expect(p.headers['access-control-allow-origin']).toBeUndefined();
    expect((await pre('http://localhost:3000')).headers['access-control-allow-origin']).toBe('http://localhost:3000');
    await app.close();
  });

  it('WebSocket: no Origin, the server\'s own origin and listed origins may open a stream; others get 403', async () => {
    const ws = server.url.replace('http', 'ws') + '/v1/stream';
    const open = (origin?: string) => new Promise<number>((resolve) => {
      const s = new WebSocket(ws, origin ? { origin } : {});
      s.on('open', () => { s.close(); resolve(101); });
      s.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
      s.on('error', () => {});
    });
    expect(await open()).toBe(101);
    expect(await open(server.url)).toBe(101);
    expect(await open(allowed)).toBe(101);
    expect(await open(other)).toBe(403);
    expect(await open('http://127.0.0.1:1')).toBe(101); // a loopback page: allowed by default (origin.ts)
    expect(await open('https://evil.example')).toBe(403);
  });
});

const browserReason = hasChromium() ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

describe.skipIf(browserReason !== undefined)(`headless Chromium on another origin${browserReason ? ` (skipped: ${browserReason})` : ''}`, () => {
  let browser: Launched;
  // the page servers' names resolve to 127.0.0.1 in this browser only
  beforeAll(async () => { browser = await launchChromium({ args: ['--host-resolver-rules=MAP *.test 127.0.0.1'] }); }, 60_000);
  afterAll(async () => { await browser?.close(); });

  type Attempt = { status: number; body: unknown } | { failed: string };
  // Runs in the page (a source string: the test file's own imports must not leak into it): fetch the page's
  // own image, POST it to Pinhole raw (non-simple type: preflight), as multipart and as JSON, open a stream.
  const PAGE_SCRIPT = `async (api) => {
    const img = await (await fetch('/img.png')).blob();
    const attempt = async (f) => {
      try { const r = await f(); return { status: r.status, body: await r.json() }; } catch (e) { return { failed: String(e) }; }
    };
    const form = new FormData();
    form.append('image', img, 'img.png');
    const b64 = btoa(String.fromCharCode(...new Uint8Array(await img.arrayBuffer())));
    const raw = await attempt(() => fetch(api + '/v1/detect?thresh=0.5', { method: 'POST', headers: { 'content-type': 'image/png' }, body: img }));
    const multipart = await attempt(() => fetch(api + '/v1/detect', { method: 'POST', body: form }));
    const json = await attempt(() => fetch(api + '/v1/detect', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: b64 }) }));
    const stream = await new Promise((resolve) => {
      const ws = new WebSocket(api.replace('http', 'ws') + '/v1/stream');
      ws.onopen = () => ws.send(img);
      ws.onmessage = (m) => { resolve(String(m.data)); ws.close(); };
      ws.onerror = () => resolve('refused');
    });
    return { raw, multipart, json, stream };
  }`;

  /** Opens the page on `origin` and runs PAGE_SCRIPT against the Pinhole server. */
  async function callFrom(origin: string) {
    const page = await browser.context.newPage();
    await page.goto(origin + '/');
    const result = await page.evaluate(`(${PAGE_SCRIPT})(${JSON.stringify(server.url)})`) as {
      raw: Attempt; multipart: Attempt; json: Attempt; stream: string;
    };
    await page.close();
    return result;
  }

  it('a page on a listed origin calls /v1/detect (raw with preflight, multipart, JSON) and opens a stream', async () => {
    const r = await callFrom(allowed);
    for (const k of ['raw', 'multipart', 'json'] as const) {
      expect(r[k], k).toMatchObject({ status: 200, body: { model: 'det', image: { width: 40, height: 30 }, detections: [] } });
    }
    expect(JSON.parse(r.stream)).toMatchObject({ frame: 1, image: { width: 40, height: 30 } });
  }, 60_000);

  it('a page on an unlisted origin is refused by the browser (no CORS headers) and cannot open a stream', async () => {
    const r = await callFrom(other);
    for (const k of ['raw', 'multipart', 'json'] as const) {
      expect(r[k], k).toMatchObject({ failed: expect.stringMatching(/TypeError|Failed to fetch/) });
    }
    expect(r.stream).toBe('refused');
  }, 60_000);
});
