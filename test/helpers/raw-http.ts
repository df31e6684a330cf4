// HTTP/1.1 over a bare TCP socket, for what fetch hides: exact bytes sent (bad URLs, oversized headers,
// partial bodies), the Connection header of an answer, and whether the socket ended cleanly or was reset.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** the socket saw ECONNRESET / EPIPE */
  reset: boolean;
  /** the server closed the connection (FIN) */
  ended: boolean;
}

/** Parses the first HTTP response in `buf` (Content-Length framed or to the end). */
export function parseResponse(buf: Buffer, noBody = false): Omit<RawAnswer, 'reset' | 'ended'> | undefined {
  const text = buf.toString('latin1');
  const head = text.indexOf('\r\n\r\n');
  if (head < 0) return undefined;
  const lines = text.slice(0, head).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  // an answer to HEAD, 1xx, 204 and 304 has no body whatever Content-Length says
  const len = noBody || status < 200 || status === 204 || status === 304 ? 0
    : headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const rest = buf.subarray(Buffer.byteLength(text.slice(0, head + 4), 'latin1'));
  if (len !== undefined && rest.length < len) return undefined;
  return { status, headers, body: rest.subarray(0, len ?? rest.length).toString('utf8') };
}

/** Sends `data`, waits for one full answer (or the end of the socket), then closes unless told to keep it. */
export function rawRequest(port: number, data: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<RawAnswer> {
  const head = /^HEAD /.test(typeof data === 'string' ? data : data.toString('latin1', 0, 5));
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let reset = false;
    let ended = false;
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no answer within ${opts.timeoutMs ?? 5000} ms: ${buf.toString('latin1').slice(0, 200)}`)); }, opts.timeoutMs ?? 5000);
    const finish = () => {
      const r = parseResponse(buf, head);
      if (!r) return false;
      clearTimeout(timer);
      // give a close/reset that follows the answer a moment to show
      setTimeout(() => { s.destroy(); resolve({ ...r, reset, ended }); }, 30);
      return true;
    };
    s.on('data', (c) => { buf = Buffer.concat([buf, c]); finish(); });
    s.on('end', () => { ended = true; });
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true; else reject(e); });
    s.on('close', () => { if (!parseResponse(buf, head)) { clearTimeout(timer); resolve({ status: 0, headers: {}, body: buf.toString(), reset, ended }); } });
    s.write(data);
  });
}
