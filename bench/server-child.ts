// Shared by bench/http.ts and bench/ws.ts: their common flags, pick a detection model folder, and run
// `pinhole serve` on it in a child process on an ephemeral loopback port (so the load generator does not
// share its event loop).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const DETECTORS = new Set(['yolov1', 'yolov2', 'yolo9000']);

export interface PickedModel { name: string; dir: string; kind: string }

/** The named model folder, or the first detector folder (by name) under modelsDir; undefined if none. */
export function pickDetector(modelsDir: string, name?: string): PickedModel | undefined {
  const root = resolve(modelsDir);
  if (!existsSync(root)) return undefined;
  const names = name ? [name] : readdirSync(root).filter((n) => !n.startsWith('.')).sort();
  for (const n of names) {
    const file = join(root, n, 'model.json');
    if (!existsSync(file) || !existsSync(join(root, n, 'model.onnx'))) continue;
    try {
      const kind = String(JSON.parse(readFileSync(file, 'utf8')).kind);
      if (DETECTORS.has(kind)) return { name: n, dir: join(root, n), kind };
    } catch { /* not a model folder */ }
  }
  return undefined;
}

export function noModelHelp(modelsDir: string, name?: string): string {
  return [
    name ? `no detection model folder "${name}" under ${modelsDir}.` : `no detection model folder under ${modelsDir}.`,
    'The benches need one (model.onnx + model.json). Import darknet weights, e.g.:',
    `  npx pinhole darknet /usr/share/darknet/cfg/yolov2-tiny-voc.cfg yolov2-tiny-voc.weights \\`,
    `    --names /usr/share/darknet/data/voc.names --out ${modelsDir}/yolov2-tiny-voc`,
    `or train one (npx pinhole train yolov2 --help), then pass --models DIR [--model NAME].`,
  ].join('\n');
}

/** Flags of both serving benches for parseArgs (bench/run.ts passes --models, --model and --duration to each). */
export const SERVING_OPTIONS = {
  models: { type: 'string', default: 'models' },
  model: { type: 'string' },
  image: { type: 'string', default: '/usr/share/darknet/data/dog.jpg' },
  duration: { type: 'string', default: '10' },
  // unset: the server's defaults (batching by execution provider, threads by core count)
  'max-batch': { type: 'string' },
  'batch-delay-ms': { type: 'string' },
  workers: { type: 'string' },
  threads: { type: 'string' },
  'solo-threads': { type: 'string' },
} as const;

export interface ServingFlags {
  models: string;
  model?: string;
  image: string;
  duration: string;
  'max-batch'?: string;
  'batch-delay-ms'?: string;
  workers?: string;
  threads?: string;
  'solo-threads'?: string;
}

export interface ServingSetup {
  model: PickedModel;
  image: Buffer;
  /** seconds per measured run */
  duration: number;
  /** `pinhole serve` flags for startServerChild */
  flags: string[];
}

/** The model to serve (none: the help on stderr and exit 1), the image to send and the server's flags. */
export function servingSetup(o: ServingFlags): ServingSetup {
  const model = pickDetector(o.models, o.model);
  if (!model) {
    console.error(noModelHelp(o.models, o.model));
    process.exit(1);
  }
  const flags = ['--log-level', 'info'];
  for (const k of ['max-batch', 'batch-delay-ms', 'workers', 'threads', 'solo-threads'] as const) if (o[k] !== undefined) flags.push(`--${k}`, o[k]);
  return { model, image: readFileSync(o.image), duration: Number(o.duration), flags };
}

/** The 1, 5 and 15 minute load averages: other work on the machine lowers every figure. */
export const loadAverage = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

export interface ServerChild {
  url: string;
  /** what the server printed so far */
  log(): string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** Which checkout the server runs from (another build, for A/B runs) and Node flags before its script. */
export interface ChildRun {
  root?: string;
  nodeArgs?: string[];
  /** set in the server's environment (e.g. glibc's MALLOC_* tunables) */
  env?: Record<string, string>;
}

/**
 * Starts `pinhole serve` on 127.0.0.1:0 serving only `models` (through a folder of symlinks). `logTail`
 * keeps only the last that many characters of its output, for long runs that log every request.
 */
export async function startServerChild(models: PickedModel | PickedModel[], flags: string[], timeoutMs = 180_000,
  logTail = Infinity, run: ChildRun = {}): Promise<ServerChild> {
  const only = mkdtempSync(join(tmpdir(), 'pinhole-bench-models-'));
  for (const m of [models].flat()) symlinkSync(m.dir, join(only, m.name), 'dir');
  const root = run.root ?? ROOT;
  const child = spawn(process.execPath, [...(run.nodeArgs ?? []), join(root, 'bin/pinhole.js'), 'serve', '--models', only, '--host', '127.0.0.1', '--port', '0', ...flags], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...(run.env ? { env: { ...process.env, ...run.env } } : {}),
  });
  let log = '';
  const keep = (c: Buffer) => { log = (log + c).slice(-logTail); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const cleanup = () => rmSync(only, { recursive: true, force: true });
  const t0 = Date.now();
  let url: string | undefined;
  while (!url) {
    url = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(log)?.[1];
    if (url) break;
    if (child.exitCode !== null || Date.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      cleanup();
      throw new Error(`pinhole serve did not start:\n${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (/"status":"error"/.test(log)) {
    child.kill('SIGKILL');
    cleanup();
    throw new Error(`a model of ${[models].flat().map((m) => m.name).join(', ')} failed to load:\n${log.slice(-2000)}`);
  }
  return {
    url,
    log: () => log,
    child,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      cleanup();
      return code;
    },
  };
}

/** The server's thread plan from its startup line, e.g. "2 worker(s) x 1 ORT thread(s)". */
export function threadsOf(log: string): string {
  return /inference: (\d+ worker\(s\) x \d+ ORT thread\(s\))/.exec(log)?.[1] ?? 'unknown threads';
}

/** CPU seconds (user + system, all threads) the process has used so far; Linux /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name: state is field 3, utime 14, stime 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Sum of a Prometheus counter's samples for one model. */
export async function counter(url: string, name: string, model: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let s = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`model="${model}"`)) s += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return s;
}

/**
 * V8's collections in a stretch of a server's output run with `--trace-gc`: scavenges and full (mark-compact)
 * collections per isolate (the main thread's and each worker thread's), the isolate with the most scavenges first.
 */
export function collections(log: string): string {
  const per = new Map<string, { s: number; mc: number }>();
  for (const m of log.matchAll(/\[\d+:(0x[0-9a-f]+)\][^:]*: (Scavenge|Mark-Compact|Minor Mark-Compact|Mark-Sweep)/g)) {
    const e = per.get(m[1]) ?? { s: 0, mc: 0 };
    if (m[2] === 'Mark-Compact' || m[2] === 'Mark-Sweep') e.mc++;
    else e.s++;
    per.set(m[1], e);
  }
  const list = [...per.values()].sort((a, b) => b.s - a.s);
  const mc = list.reduce((a, e) => a + e.mc, 0);
  return `mark-compacts ${mc} (${list.map((e) => `${e.mc}/${e.s}`).join(' ')} MC/scavenges per isolate)`;
}
