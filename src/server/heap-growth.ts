// How far V8 lets the server's old generation grow between full collections.
//
// V8 counts the external memory allocated since the last mark-compact (every Buffer: each WebSocket frame,
// the socket reads it arrives in, sharp's decoded pixels) against the old generation's allocation limit, and
// starts incremental marking once less than a young generation's worth of room is left. At 8 camera streams
// that external memory rises by ~25-30 MB between scavenges (V8 scavenges for it only at twice its largest
// semi-space), about as much as the room V8's default growth leaves above a ~16 MB heap. When the machine is
// busy V8 measures its collections as slow, grows the heap even less (a 39 MB limit over 16 MB live), and the
// server falls into a mark-compact every 200-300 ms, 10-70 ms each on the main thread plus the concurrent
// marking (bench/README.md "GC under 8 streams"). A fixed growth factor of 4 keeps the limit above that swing
// for a heap this size: the old generation may reach ~4x its live size before a full collection, tens of MB
// for this server.

import { setFlagsFromString } from 'node:v8';

/** the old generation may grow to (1 + this/100) times what survived the last full collection */
export const HEAP_GROWING_PERCENT = 300;

const FLAG = '--heap-growing-percent';

/**
 * Sets V8's heap growing factor for this process (its worker threads included), unless Node was started with
 * one (in its flags or NODE_OPTIONS): an operator's choice wins. Returns the percent in force, undefined when
 * left to the operator's flag.
 */
export function setHeapGrowth(percent = HEAP_GROWING_PERCENT, execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  if (!(Number.isInteger(percent) && percent > 0)) throw new Error(`heap growing percent must be an integer > 0, got ${percent}`);
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a === FLAG || a.startsWith(`${FLAG}=`) || a.startsWith('--heap_growing_percent'));
  if (given) return undefined;
  setFlagsFromString(`${FLAG}=${percent}`);
  return percent;
}
