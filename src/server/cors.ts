// Browser pages on other origins: CORS (@fastify/cors) for the server's one Origin allow-list (origin.ts,
// `--cors` / `--allowed-origins`), the same list the guards apply to WebSocket upgrades and multipart posts
// (which browsers send cross-site without a preflight). Default: same-origin pages (the console at /) and
// pages on this machine only: the server holds no credentials, but it spends CPU/GPU on every request and a
// local one sits behind the user's firewall, where any web page the user visits could otherwise reach it.
// Clients that are not browsers (curl, SDKs, NVRs) send no Origin and are not affected.
import type { FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import { originAllowed, type OriginPolicy } from './origin.ts';

export async function registerCors(app: FastifyInstance, policy: OriginPolicy): Promise<void> {
  await app.register(cors, {
    // Same-origin requests need no CORS headers; an allowed cross-origin page gets them, any other none
    // (its browser then refuses to hand the answer over).
    delegator: (req, cb) => {
      const origin = req.headers.origin;
      cb(null, { origin: origin !== undefined && originAllowed(policy, origin, req.headers.host) ? origin : false, ...COMMON });
    },
  });
}

const COMMON = {
  methods: ['GET', 'POST', 'HEAD'],
  // what pages need to read: the seed of a generated image, when to retry, where a binary KServe answer splits
  exposedHeaders: ['X-Seed', 'Retry-After', 'Inference-Header-Content-Length'],
  maxAge: 600,
  // a lenient preflight: the strict one answers a text/plain 400, outside the server's error shapes
  strictPreflight: false,
};
