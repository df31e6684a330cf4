// Log lines about clients' mistakes, limited in rate: one line per bad request is what an operator wants
// to read, until a client sends thousands a second. Past the limit the lines are counted, and one line a
// second says how many were left out. Server faults are never limited (they are logged elsewhere).
import type { FastifyBaseLogger } from 'fastify';

export const CLIENT_LINES_PER_SECOND = 20;

// Per process, not per request logger: the volume of the log is the process's.
const window = { start: 0, lines: 0, skipped: 0 };

export function logClientError(log: FastifyBaseLogger, level: 'info' | 'warn', fields: object, msg: string, now = Date.now()): void {
  // a clock that went back (NTP step) starts a new window too
  if (now - window.start >= 1000 || now < window.start) {
    if (window.skipped > 0) log.info({ skipped: window.skipped }, `${window.skipped} more client errors in the last second were not logged`);
    window.start = now;
    window.lines = 0;
    window.skipped = 0;
  }
  if (window.lines++ < CLIENT_LINES_PER_SECOND) log[level](fields, msg);
  else window.skipped++;
}
