// ONNX Runtime's optimized graphs, kept on disk between starts. At level "all" ORT rewrites a graph for
// this CPU (NCHWc layout with reordered weights, fused convolutions) every time a session is created:
// for darknet's yolov2-tiny-voc in float32 that was 200-300 ms of a 2-core machine's cold start, and the
// rewrite is what makes its runs ~25% cheaper, so it stays. Saved once (ORT's optimizedModelFilePath) and
// loaded with optimizations off, the same session is created in ~70 ms and holds ~50 MB less (ORT keeps
// no copy of the original weights). The saved graph is only valid for the CPU and the ORT build that made
// it, so its key holds both, with the model file's identity; the model folder itself is never written.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { OrtCacheOptions } from './types.ts';

export type { OrtCacheOptions };


export const MIN_CACHED_BYTES = 16 * 1024 * 1024;
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

export interface CacheEntry {
  /** where the optimized graph is (or is to be written) */
  path: string;
  /** write here, then rename to `path` (a reader never sees half a file) */
  temp: string;
  /** what the runtime's graph passes did to the model (graph-pass.ts), kept beside the graph when they did anything */
  note: string;
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
    .update([real, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, ortBuild, process.arch, flags, 'cpu', 'all'].join('\n'))
    .digest('hex').slice(0, 32);
  const path = join(o.dir, `${key}.onnx`);
  return { path, temp: `${path}.${process.pid}.${threadId}.tmp`, note: noteOf(path) };
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

/** Moves a freshly written graph into place and prunes the folder; false if it could not be stored. */
export function cacheStore(e: CacheEntry, o: OrtCacheOptions): boolean {
  try {
    renameSync(e.temp, e.path);
  } catch {
    cacheDrop(e.temp);
    return false;
  }
  prune(o.dir, o.maxBytes ?? MAX_CACHE_BYTES);
  return true;
}

/** Removes a file of the cache (an entry ORT could not load, a temp file left behind); missing is fine. */
export function cacheDrop(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}

function prune(dir: string, maxBytes: number): void {
  let files;
  try {
    files = readdirSync(dir).filter((n) => n.endsWith('.onnx')).map((n) => {
      const st = statSync(join(dir, n));
      return { path: join(dir, n), size: st.size, used: st.mtimeMs };
    });
  } catch {
    return;
  }
  files.sort((a, b) => b.used - a.used);
  let total = 0;
  for (const f of files) {
    total += f.size;
    if (total > maxBytes) {
      cacheDrop(f.path);
      cacheDrop(noteOf(f.path));
    }
  }
}
