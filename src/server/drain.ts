// Reading a refused request body to its end before answering, as nginx's lingering close does: a client
// that writes its whole body before reading (curl, fetch, most SDKs) then gets the 413 instead of EPIPE or
// a reset. Bounded in bytes and time; past either bound the answer goes out at once with Connection: close.
import type { IncomingMessage } from 'node:http';

export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 5_000;

export function drainThen(req: IncomingMessage, answer: () => void, maxBytes = DRAIN_MAX_BYTES, maxMs = DRAIN_MAX_MS): void {
  let seen = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', finish);
    req.off('error', finish);
    req.off('close', finish);
    answer();
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) finish();
  };
  const timer = setTimeout(finish, maxMs);
  timer.unref();
  if (req.complete || req.destroyed) return finish();
  req.on('data', onData);
  req.on('end', finish);
  req.on('error', finish);
  req.on('close', finish);
  req.resume();
}
