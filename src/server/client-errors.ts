// Errors Node's HTTP parser raises before Fastify sees a request (oversized headers, a malformed request
// line, a request that took longer than the timeouts allow). Fastify's default answers them in its own
// shape and, for 431, destroys the socket without saying Connection: close, so a keep-alive client's next
// request meets a reset. Here: the documented shape, Connection: close, the socket ended after the answer.
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { logClientError } from './client-log.ts';
import { errorBody, errorShapeFor } from './errors.ts';

const BY_CODE: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request headers did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'the request line and headers are over the size limit' },
  HPE_URI_TOO_LONG: { status: 414, code: 'uri_too_long', message: 'the request URL is too long' },
};

const REASON: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 414: 'URI Too Long', 431: 'Request Header Fields Too Large' };

export function clientErrorHandler(log: () => FastifyBaseLogger) {
  return (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const known = err.code ? BY_CODE[err.code] : undefined;
    const r = known ?? { status: 400, code: 'bad_request', message: `malformed HTTP request (${err.code ?? 'parse error'})` };
    logClientError(log(), 'info', { code: r.code, status: r.status }, r.message);
    // An answer already under way (a response has started on this socket) cannot be replaced.
    const res = (socket as Socket & { _httpMessage?: { headersSent?: boolean; req?: { url?: string } } })._httpMessage;
    if (!socket.writable || res?.headersSent) { socket.destroy(); return; }
    // The path is known for a request whose line was parsed (from its request, or the bytes that failed);
    // a KServe client still gets its shape then.
    const url = res?.req?.url ?? /^[A-Z]+ +(\S+)/.exec(err.rawPacket?.toString('latin1', 0, 512) ?? '')?.[1] ?? '/';
    const body = JSON.stringify(errorBody(errorShapeFor(url), r));
    socket.end(`HTTP/1.1 ${r.status} ${REASON[r.status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    // a peer that never reads must not keep the socket
    setTimeout(() => socket.destroy(), 2_000).unref();
  };
}

type TimedSocket = Socket & { _httpMessage?: { writableEnded?: boolean; req?: { complete?: boolean } } };

/**
 * The idle timeout (`--idle-timeout-ms`) is meant for clients gone silent, but Node applies it to any
 * socket without traffic, also while the server itself works on a request whose body has arrived (a long
 * inference): those are left to the request deadline. A silent client mid-request gets 408 and the socket
 * closes; an idle keep-alive socket just closes.
 */
export function idleSocketHandler(log: () => FastifyBaseLogger) {
  const answer = clientErrorHandler(log);
  return (socket: TimedSocket): void => {
    const res = socket._httpMessage;
    if (res && !res.writableEnded && res.req?.complete) return;
    if (res && !res.writableEnded) answer(Object.assign(new Error('idle'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    else socket.destroy();
  };
}
