// Checks every request passes before its route: shutdown (drain), Host and Origin allow-lists. Registered
// before the routes, so they hold for all of them, Fastify's 404/405 answers included.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PinholeError } from '../errors.ts';
import { hostAllowed, originAllowed, type OriginPolicy } from './origin.ts';

const forbidden = (message: string) => Object.assign(new Error(message), { statusCode: 403 });

// RFC 6455: a 16-byte nonce in base64, version 13 (ws also speaks 8). Checked here so that a bad handshake
// gets our error shape instead of the WebSocket library's plain-text 400.
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

function badHandshake(req: FastifyRequest): string | undefined {
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return undefined;
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !WS_KEY.test(key.trim())) return 'WebSocket handshake: missing or invalid Sec-WebSocket-Key';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'WebSocket handshake: Sec-WebSocket-Version must be 13';
  if (req.method !== 'GET') return 'WebSocket handshake: the method must be GET';
  return undefined;
}

/** Browsers send these cross-site without asking first (no CORS preflight): a form post, a WebSocket. */
function crossSiteCapable(req: FastifyRequest): boolean {
  if (req.headers.upgrade?.toLowerCase() === 'websocket') return true;
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/');
}

export function installGuards(app: FastifyInstance, policy: OriginPolicy): void {
  const drain = { draining: false, start() { drain.draining = true; } };
  app.decorate('pinholeDrain', drain);

  app.addHook('onRequest', async (req, reply) => {
    if (drain.draining) {
      reply.header('connection', 'close');
      throw new PinholeError('overloaded', 'the server is shutting down; retry on another instance', { retryAfter: 1 });
    }
    if (!hostAllowed(policy, req.headers.host)) {
      throw forbidden(`Host "${req.headers.host ?? ''}" is not served here (allowed: ${policy.hosts === 'loopback' ? 'localhost and loopback addresses' : (policy.hosts as string[]).join(', ')}; see --allowed-hosts)`);
    }
    const handshake = badHandshake(req);
    if (handshake) throw Object.assign(new Error(handshake), { statusCode: 400 });
    if (crossSiteCapable(req) && !originAllowed(policy, req.headers.origin, req.headers.host)) {
      throw forbidden(`Origin "${req.headers.origin}" is not allowed (see --allowed-origins)`);
    }
  });

  // A refused WebSocket upgrade was answered on a socket the HTTP server no longer manages (the upgrade
  // took it over): end it here, or it stays open and holds shutdown.
  app.addHook('onResponse', async (req) => {
    const socket = req.raw.socket;
    if (req.headers.upgrade && socket && !socket.destroyed) socket.end();
  });

  // An answer that goes out once shutdown has begun closes its connection, so keep-alive clients reconnect
  // elsewhere instead of holding the server open.
  app.addHook('onSend', async (_req, reply) => {
    if (drain.draining) reply.header('connection', 'close');
  });
}
