// ONNX Runtime's optimized graphs, kept on disk between starts. At level "all" ORT rewrites a graph for
// this CPU (NCHWc layout with reordered weights, fused convolutions) every time a session is created:
// for darknet's yolov2-tiny-voc in float32 that was 200-300 ms of a 2-core machine's cold start, and the
// rewrite is what makes its runs ~25% cheaper, so it stays. Saved once (ORT's optimizedModelFilePath) and
// loaded with optimizations off, the same session is created in ~70 ms and holds ~50 MB less (ORT keeps
// no copy of the original weights). The saved graph is only valid for the CPU and the ORT build that made
// it, so its key holds both, with the model file's identity; the model folder itself is never written.
//
// The weights go in a file of their own beside the graph (ORT's external initializers): ORT maps that file
// into memory instead of parsing and copying the weights out of the graph's protobuf, which is what session
// creation spent its time on. yolov2-tiny-voc with the Winograd pass (169 MB of weights): 380-420 ms -> 25-50
// ms; the plain 63 MB graph: 130-270 -> 20-70 ms (bench/README.md, "Cold start with mapped weights"). A
// mapped file must never change under its readers (a truncated page is a SIGBUS), so each writer puts the
// weights in a file named for it alone, and a graph is moved into place only where none is yet.
import { createHash, randomUUID } from 'node:crypto';
import { linkSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { OrtCacheOptions } from './types.ts';

export type { OrtCacheOptions };


// darknet's yolov2-tiny-voc in int8 (16.3 MB): optimized at every start 80-110 ms, from the cache 40-55 ms
export const MIN_CACHED_BYTES = 8 * 1024 * 1024;
const MAX_CACHE_BYTES = 1024 ** 3;

/** The CPU's instruction-set flags (Linux); undefined elsewhere, where nothing is cached. */
function cpuFlags(): string | undefined {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/** The graph passes' note of a cached graph (CacheEntry.note) sits beside it under this name. */
const noteOf = (path: string) => `${path}.json`;
/** An entry's files are named for its key: KEY.onnx (the graph), KEY.onnx.json (the note), KEY.*.data (the weights). */
const KEY_LEN = 32;
const keyOf = (name: string) => name.slice(0, KEY_LEN);
/** Weights files whose graph is gone are removed once this old (a younger one may be a write under way). */
const ORPHAN_AGE_MS = 10 * 60_000;

export interface CacheEntry {
  /** where the optimized graph is (or is to be written) */
  path: string;
  /** write here, then rename to `path` (a reader never sees half a file) */
  temp: string;
  /** what the runtime's graph passes did to the model (graph-pass.ts), kept beside the graph when they did anything */
  note: string;
  /** file name, in the cache folder, of the weights a graph written through this entry refers to (its writer's own) */
  data: string;
}

/**
 * The cache entry of `file` for this CPU and ORT build (`ortBuild`: ORT's version and the session options
 * that shape the optimized graph), or undefined when it is not to be cached (small,
 * unreadable, or the CPU cannot be identified). The model file is identified by device, inode, size,
 * modification and change times: a file rewritten in place or replaced gets a new entry.
 */
export function cacheEntry(file: string, ortBuild: string, o: OrtCacheOptions): CacheEntry | undefined {
  const flags = cpuFlags();
  if (!flags) return undefined;
  let st, real;
  try {
    real = realpathSync(file);
    st = statSync(real);
  } catch {
    return undefined;
  }
  if (st.size < (o.minBytes ?? MIN_CACHED_BYTES)) return undefined;
  const key = createHash('sha256')
    .update([real, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, ortBuild, process.arch, flags, 'cpu', 'all', 'weights=external'].join('\n'))
    .digest('hex').slice(0, KEY_LEN);
  const path = join(o.dir, `${key}.onnx`);
  const writer = `${process.pid}.${threadId}.${randomUUID().slice(0, 8)}`;
  return { path, temp: `${path}.${writer}.tmp`, note: noteOf(path), data: `${key}.${writer}.data` };
}

/** The entry is there: marked used now (pruning goes by last use). */
export function cacheHit(e: CacheEntry): boolean {
  try {
    const now = new Date();
    utimesSync(e.path, now, now);
    return true;
  } catch {
    return false;
  }
}

/**
 * Puts a freshly written graph in place and prunes the folder; false if it could not be stored. A graph
 * already there (another worker or process wrote it meanwhile) stays, with the weights it maps: this
 * writer's files go instead.
 */
export function cacheStore(e: CacheEntry, o: OrtCacheOptions): boolean {
  try {
    // a hard link fails where the name is taken (a rename would replace the graph another reader trusts)
    linkSync(e.temp, e.path);
    cacheDrop(e.temp);
  } catch (err) {
    // a file system without hard links still gets a cache by rename, which may replace a graph written
    // meanwhile (its weights file then stays behind until its key is pruned)
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || !renamed(e)) {
      cacheDiscard(e);
      return false;
    }
  }
  prune(o.dir, o.maxBytes ?? MAX_CACHE_BYTES);
  return true;
}

function renamed(e: CacheEntry): boolean {
  try {
    renameSync(e.temp, e.path);
    return true;
  } catch {
    return false;
  }
}

/** Removes what a failed or superseded write through `e` left: its temporary graph and its weights. */
export function cacheDiscard(e: CacheEntry): void {
  cacheDrop(e.temp);
  cacheDrop(join(dirname(e.path), e.data));
}

/**
 * Removes an entry ORT could not load: its graph, note and every weights file of its key (a weights file
 * mapped by a running server stays readable to it until it lets go).
 */
export function cacheDropEntry(e: CacheEntry): void {
  const dir = dirname(e.path);
  const key = keyOf(basename(e.path));
  cacheDrop(e.path);
  cacheDrop(e.note);
  try {
    for (const n of readdirSync(dir)) if (n.startsWith(`${key}.`) && n.endsWith('.data')) cacheDrop(join(dir, n));
  } catch { /* no folder, nothing to drop */ }
}

/** Removes a file of the cache (an entry ORT could not load, a temp file left behind); missing is fine. */
export function cacheDrop(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}

interface CacheFile { name: string; size: number; mtimeMs: number }

function prune(dir: string, maxBytes: number): void {
  let files: CacheFile[];
  try {
    files = readdirSync(dir).flatMap((name) => {
      try {
        const { size, mtimeMs } = statSync(join(dir, name));
        return [{ name, size, mtimeMs }];
      } catch {
        return []; // removed meanwhile
      }
    });
  } catch {
    return;
  }
  const graphs = files.filter((f) => f.name.endsWith('.onnx')).sort((a, b) => b.mtimeMs - a.mtimeMs);
  const data = files.filter((f) => f.name.endsWith('.data'));
  // most recently used first: what is over the budget goes
  const kept = new Set<string>();
  let total = 0;
  for (const g of graphs) {
    const key = keyOf(g.name);
    total += g.size + data.filter((d) => keyOf(d.name) === key).reduce((a, d) => a + d.size, 0);
    if (total > maxBytes) dropKey(dir, key, files);
    else kept.add(key);
  }
  // a writer that died mid-write left its weights (and temporary graph) behind
  const now = Date.now();
  for (const f of files) {
    const left = f.name.endsWith('.tmp') || (f.name.endsWith('.data') && !kept.has(keyOf(f.name)));
    if (left && now - f.mtimeMs > ORPHAN_AGE_MS) cacheDrop(join(dir, f.name));
  }
}

function dropKey(dir: string, key: string, files: readonly CacheFile[]): void {
  for (const f of files) if (keyOf(f.name) === key && /\.(onnx|json|data)$/.test(f.name)) cacheDrop(join(dir, f.name));
}
