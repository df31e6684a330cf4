// Which browser pages may use the server: an Origin allow-list, and a Host allow-list against DNS
// rebinding (a page on evil.example whose name is re-pointed at 127.0.0.1 talks to a local server as
// "same origin", but its requests still carry Host: evil.example). One parsed list serves every consumer:
// the WebSocket upgrade and multipart checks here, and a CORS plugin (`origin: (o, cb) => cb(null,
// policy.originAllowed(o, host))`) when one is added.
import { isIP } from 'node:net';

export interface OriginPolicy {
  /** `*` = any origin; otherwise exact origins (scheme://host[:port]) */
  origins: '*' | string[];
  /** `*` = any Host header; `loopback` = localhost and loopback addresses; otherwise host names (any port) */
  hosts: '*' | 'loopback' | string[];
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || (isIP(h) === 4 && h.startsWith('127.')) || h === '::1';
}

/** `--allowed-origins` / `--allowed-hosts`: comma lists, `*` for any. Throws on an entry that cannot match. */
export function parseList(raw: string, what: 'origin' | 'host'): '*' | string[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.includes('*')) return '*';
  for (const it of items) {
    if (what === 'origin' && !/^https?:\/\/[^/\s]+$/i.test(it)) throw new Error(`origin "${it}" must look like http(s)://host[:port], without a path`);
    if (what === 'host' && !/^[^\s/:]+$|^\[[0-9a-f:.]+\]$/i.test(it)) throw new Error(`host "${it}" must be a host name or address, without port or path`);
  }
  return items.map((s) => s.toLowerCase().replace(/^\[|\]$/g, ''));
}

/**
 * The default when no list is given: a server listening on loopback answers only Host names that are
 * loopback (a rebinding page cannot pose as one); one listening elsewhere answers any Host, since its
 * public names are not known here. Origins: same-origin pages and loopback pages only.
 */
export function defaultPolicy(listenHost: string): OriginPolicy {
  return { origins: [], hosts: isLoopback(listenHost) ? 'loopback' : '*' };
}

/** Host header without its port, lower-case, brackets removed. */
function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const i = h.lastIndexOf(':');
  return i >= 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}

export function hostAllowed(p: OriginPolicy, hostHeader: string | undefined): boolean {
  if (p.hosts === '*') return true;
  if (!hostHeader) return false;
  const h = hostName(hostHeader);
  return p.hosts === 'loopback' ? isLoopback(h) : p.hosts.includes(h);
}

/**
 * A request without Origin is not from a browser page (curl, SDKs) and is allowed; a page's Origin must be
 * listed, be the server's own (same scheme-less host:port as Host), or be a loopback page.
 */
export function originAllowed(p: OriginPolicy, origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  if (p.origins === '*') return true;
  const o = origin.trim().toLowerCase();
  if (p.origins.includes(o)) return true;
  let url: URL;
  try { url = new URL(o); } catch { return false; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (hostHeader && url.host === hostHeader.trim().toLowerCase()) return true;
  return isLoopback(url.hostname);
}
