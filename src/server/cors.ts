// Browser pages on other origins: the operator's allow-list (`pinhole serve --cors ORIGINS`), used for CORS
// (@fastify/cors) and for the WebSocket upgrade's Origin check, which browsers do not subject to CORS.
// Default: no list, so only same-origin pages (the console served at /) may call the server from a browser.
// A cross-origin page must be named: the server holds no credentials, but it spends CPU/GPU on every request
// and a local one sits behind the user's firewall, where any web page the user visits could otherwise
// reach it. Clients that are not browsers (curl, SDKs, NVRs) send no Origin and are not affected.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { PinholeError } from '../errors.ts';

/** `*` = any origin; otherwise exact origins, lower-case, as browsers send them (scheme://host[:port]). */
export type OriginList = '*' | string[];

/** Parses `--cors`: a comma list of origins, or `*`. Throws on an entry a browser could never send. */
export function parseOrigins(raw: string): OriginList {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.includes('*')) return '*';
  return items.map((it) => {
    let u: URL | undefined;
    try { u = new URL(it); } catch { /* reported below */ }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== it.toLowerCase().replace(/\/$/, '')) {
      throw new Error(`origin "${it}" must be scheme://host[:port] as a browser sends it (no path, no default port), e.g. https://nvr.example:8443`);
    }
    return u.origin;
  });
}

export function originListed(list: OriginList, origin: string): boolean {
  return list === '*' || list.includes(origin.trim().toLowerCase());
}

/** A page's own server: its Origin's host:port is the Host it sent (the scheme is not visible here). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

/** For WebSocket upgrades (preHandler): a browser page may open a stream only from its own or a listed origin. */
export function checkUpgradeOrigin(list: OriginList, req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin === undefined || sameOrigin(req) || originListed(list, origin)) return;
  throw new PinholeError('forbidden', `a page from origin "${origin}" may not open a stream: the server's --cors list does not name it`);
}

/** CORS for the listed origins; with an empty list, cross-origin requests get no CORS headers (the browser refuses). */
export async function registerCors(app: FastifyInstance, list: OriginList): Promise<void> {
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && originListed(list, origin)),
    methods: ['GET', 'POST', 'HEAD'],
    // what pages need to read: the seed of a generated image, when to retry, where a binary KServe answer splits
    exposedHeaders: ['X-Seed', 'Retry-After', 'Inference-Header-Content-Length'],
    maxAge: 600,
    // a lenient preflight: the strict one answers a text/plain 400, outside the server's one error shape
    strictPreflight: false,
  });
}
