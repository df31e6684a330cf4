// `pinhole serve [--models DIR] [--host H] [--port P] [--ep cuda,cpu] [--max-batch N] [--batch-delay-ms D]`
// Loads every model folder, serves the HTTP/WebSocket API, and on SIGTERM/SIGINT stops accepting,
// finishes in-flight requests and closes the runtime.
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime/runtime.ts';
import type { RuntimeLogger } from '../runtime/types.ts';
import { DEFAULTS as APP_DEFAULTS } from '../server/defaults.ts';
import { setHeapGrowth } from '../server/heap-growth.ts';
import { startMark } from '../runtime/start-trace.ts';
import { closeOnSignals, SHUTDOWN_TIMEOUT_MS, startServer } from '../server/lifecycle.ts';
import type { FirstUse } from '../server/server-options.ts';
import { defaultPolicy, parseList } from '../server/origin.ts';
import { epList } from './detect-options.ts';
import { intOption, numberOption, UsageError } from './errors.ts';

interface ServeOptions {
  models: string;
  host: string;
  port?: number;
  ep: string[];
  maxBatch?: number;
  batchDelayMs?: number;
  queueLimit?: number;
  workers?: number;
  threads?: number;
  soloThreads?: number;
  cpuArena: boolean;
  /** --no-winograd: false */
  winograd: boolean;
  ortCache: string | false;
  decodeLanes?: number;
  streamInFlight?: number;
  bodyLimitMb: number;
  maxInFlight: number;
  timeoutMs: number;
  watch?: boolean;
  logLevel: string;
  logRequests?: boolean;
  inferMaxBatch: number;
  inferMaxOutput: number;
  headersTimeoutMs: number;
  uploadTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownTimeoutMs: number;
  allowedOrigins?: '*' | string[];
  allowedHosts?: '*' | string[];
  cors?: '*' | string[];
  faceModel?: string;
}

const listOption = (what: 'origin' | 'host', flag: string) => (raw: string) => {
  try { return parseList(raw, what); } catch (e) { throw new UsageError(`${flag}: ${(e as Error).message}`); }
};

/** `--cors` and `--allowed-origins` name the same list (CORS and the Origin guard read one policy): one of them. */
function corsList(o: ServeOptions): '*' | string[] | undefined {
  if (o.cors !== undefined && o.allowedOrigins !== undefined) throw new UsageError('--cors and --allowed-origins are the same list: give one');
  return o.cors ?? o.allowedOrigins;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
function logLevel(raw: string): string {
  if (!LEVELS.includes(raw)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

/** $XDG_CACHE_HOME/pinhole/ort, else ~/.cache/pinhole/ort */
function defaultOrtCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pinhole', 'ort');
}

function envPort(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 8080;
  return intOption('PORT', 0, 65535)(raw);
}

/** Runtime log lines go to the server's logger; the ones written while models load are held until it exists. */
function deferredLogger(): RuntimeLogger & { attach(l: RuntimeLogger): void } {
  let target: RuntimeLogger | undefined;
  const held: Array<[keyof RuntimeLogger, string]> = [];
  const at = (level: keyof RuntimeLogger) => (msg: string) => (target ? target[level](msg) : held.push([level, msg]));
  return {
    info: at('info'), warn: at('warn'), error: at('error'),
    attach(l) { target = l; for (const [lv, m] of held.splice(0)) l[lv](m); },
  };
}

/** The route whose first request should not pay for compiling its schemas: what a detection server is sent first. */
const HOT_ROUTES = ['/v1/detect'];

/**
 * The app built and made ready while the models load, the hot route's schemas compiled while the main
 * thread still waits for them; the runtime is closed if that fails.
 */
async function built(runtime: Runtime, build: (firstUse: Set<FirstUse>) => Promise<FastifyInstance>, loaded: Promise<void>,
  warm: typeof import('../server/server-options.ts').warmRoutes): Promise<FastifyInstance> {
  try {
    const firstUse = new Set<FirstUse>();
    const app = await build(firstUse);
    await app.ready();
    startMark('serve: app ready');
    await warm(firstUse, HOT_ROUTES, loaded);
    await loaded;
    return app;
  } catch (e) {
    await runtime.close();
    throw e;
  }
}

async function run(o: ServeOptions): Promise<void> {
  const modelsDir = resolve(o.models);
  // A missing folder is a mistake (wrong directory, a typo in --models), so it stops here; an empty one is a
  // choice (models come later, e.g. with --watch), so that serves, not ready, with a warning.
  const st = await stat(modelsDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new Error(`models folder ${modelsDir} ${st ? 'is not a folder' : 'not found'}: run from the checkout (it ships models/) or pass --models DIR; `
      + `a model folder is made with \`pinhole darknet CFG WEIGHTS --out DIR/NAME\` or \`pinhole export CHECKPOINT --out DIR/NAME\``);
  }
  const host = o.host;
  const policy = defaultPolicy(host);
  // before the workers start: V8's flags are the process's, and each new isolate reads them
  setHeapGrowth();
  // Cold start: the inference workers start first and are handed the models (Runtime.start); the sessions
  // are created and warmed on their threads while this one loads Fastify and builds the routes; the server
  // listens once both are done, with one warm session per model on the first worker, the rest of the thread
  // plan after (bench/README.md "Cold start, phase by phase", "Cold start: one session first"). The app's
  // modules load while the workers start (a worker thread and onnxruntime-node take ~150-250 ms to come up,
  // time this thread only waited for). Spawning the workers before this thread's own imports was measured
  // and was no faster: the two then share the cores at the time the imports are the critical path.
  startMark('serve: options read');
  const [{ Runtime }, { createMetrics }] = await Promise.all([import('../runtime/runtime.ts'), import('../server/metrics.ts')]);
  startMark('serve: runtime and metrics imported');
  const metrics = createMetrics();
  const log = deferredLogger();
  const starting = Runtime.start({
    modelsDir, eps: o.ep, maxBatch: o.maxBatch, batchDelayMs: o.batchDelayMs, queueLimit: o.queueLimit,
    workers: o.workers, intraOpThreads: o.threads, soloThreads: o.soloThreads, cpuMemArena: o.cpuArena, winograd: o.winograd, ortCache: o.ortCache ? { dir: o.ortCache } : undefined, decodeLanes: o.decodeLanes, watch: o.watch, observer: metrics.observer, log,
    // listening once each model has one warm session; the rest of the thread plan comes up after (rampUpWhenQuiet below)
    rampUp: true,
  });
  const appModule = import('../server/app.ts');
  void appModule.then(() => startMark('serve: app imported'), () => {});
  // a failed start is the error to report; the import's own failure, if any, would only hide it
  appModule.catch(() => {});
  const { runtime, loaded } = await starting;
  startMark('serve: workers up, models handed off');
  const { buildApp, warmRoutes } = await appModule.catch(async (e) => {
    await runtime.close();
    throw e;
  });
  startMark('serve: app imported (awaited)');
  const app = await built(runtime, (firstUse) => buildApp({
    runtime, metrics, firstUse,
    logger: { level: o.logLevel },
    requestLogging: o.logRequests ?? false,
    bodyLimit: Math.round(o.bodyLimitMb * 1024 * 1024),
    maxInFlight: o.maxInFlight,
    requestTimeoutMs: o.timeoutMs,
    faceModel: o.faceModel,
    inferMaxBatch: o.inferMaxBatch,
    inferMaxOutputValues: o.inferMaxOutput,
    streamInFlight: o.streamInFlight,
    headersTimeoutMs: o.headersTimeoutMs,
    uploadTimeoutMs: o.uploadTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs,
    keepAliveTimeoutMs: o.keepAliveTimeoutMs,
    originPolicy: { origins: corsList(o) ?? policy.origins, hosts: o.allowedHosts ?? policy.hosts },
  }), loaded, warmRoutes);
  startMark('serve: app built, models loaded');
  log.attach({ info: (m) => app.log.info(m), warn: (m) => app.log.warn(m), error: (m) => app.log.error(m) });
  const models = runtime.models();
  const ready = models.filter((m) => m.status === 'ready');
  if (models.length === 0) {
    app.log.warn(`no model folders under ${modelsDir}: serving nothing, /v2/health/ready answers 503; add one with `
      + `\`pinhole darknet CFG WEIGHTS --out ${o.models}/NAME\` (picked up with --watch, else restart)`);
  }
  const t = runtime.threads;
  const solo = t.soloThreads ? ` (a lone request: ${t.soloThreads} thread(s))` : '';
  app.log.info({ models: models.map((m) => ({ name: m.name, kind: m.kind, status: m.status, ep: m.ep, error: m.error })) },
    `models: ${models.map((m) => (m.status === 'ready' ? `${m.name} (${m.kind}, ${m.ep})` : `${m.name} (${m.status}: ${m.error})`)).join(', ') || 'none'}; `
    + `inference: ${t.workers} worker(s) x ${t.intraOpThreads} ORT thread(s)${solo}, execution providers asked: ${o.ep.join(',')}`
    + (runtime.planUp ? '' : '; serving on worker 0 until the rest of the plan is up (after listening, once no request has run for 100 ms, or 0.5 s at most)'));
  let server;
  try {
    server = await startServer({ app, runtime, host, port: o.port ?? envPort(), shutdownTimeoutMs: o.shutdownTimeoutMs });
  } catch (e) {
    await runtime.close();
    throw e;
  }
  startMark('serve: listening');
  app.log.info(`pinhole serving ${ready.length}/${models.length} model(s) at ${server.url}`);
  closeOnSignals(server);
  void runtime.rampUpWhenQuiet();
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve every model folder under --models over HTTP and WebSocket')
    .option('--models <dir>', 'folder of model folders (model.onnx + model.json each)', 'models')
    .option('--host <host>', 'address to listen on (env HOST)', process.env.HOST || '127.0.0.1')
    .option('--port <port>', 'port to listen on, 0 for any free one (default: env PORT, else 8080)', intOption('--port', 0, 65535))
    .option('--ep <list>', 'execution providers in order of preference, e.g. cuda,cpu', epList, ['cpu'])
    .option('--max-batch <n>', 'largest batch the dynamic batcher forms (default 4; 1 for an int8 model on CPU)', intOption('--max-batch', 1, 256))
    .option('--batch-delay-ms <ms>', 'how long a lone request waits for company while a worker is free (default: none on CPU, 2 on CUDA)', numberOption('--batch-delay-ms', 0, 1000))
    .option('--queue-limit <n>', 'requests waiting per model before 503 (default 64)', intOption('--queue-limit', 1, 100000))
    .option('--workers <n>', 'inference worker threads, each with its own ONNX Runtime session (default 1; one per core when every model served is int8, on CPU)', intOption('--workers', 1, 256))
    .option('--threads <n>', 'ONNX Runtime threads per worker (default: cores / workers)', intOption('--threads', 1, 256))
    .option('--solo-threads <n>', 'with several workers: ONNX Runtime threads of a solo session for a request that arrives alone, on CPU (default: the core count; 0: none)', intOption('--solo-threads', 0, 256))
    .option('--decode-lanes <n>', 'images decoded at once (default: libuv\'s thread pool size, 4)', intOption('--decode-lanes', 1, 256))
    .option('--ort-cache <dir>', 'folder where ONNX Runtime\'s optimized graphs of large models are kept between starts (a faster start)', defaultOrtCache())
    .option('--no-ort-cache', 'optimize every model at every start instead')
    .option('--no-winograd', 'run 3x3 convolutions of float32 models on CPU as ONNX Runtime\'s plain Conv instead of Winograd F(m x m, 3 x 3) (on by default where it measured faster: bench/README.md)')
    .option('--no-cpu-arena', 'no ONNX Runtime CPU memory arena: activations are freed after each run (less resident memory)')
    .option('--body-limit-mb <mb>', 'largest image accepted, MiB', numberOption('--body-limit-mb', 0.001, 1024), APP_DEFAULTS.bodyLimit / 1024 / 1024)
    .option('--max-in-flight <n>', 'requests running a model at once (counted once their body has arrived) before 503', intOption('--max-in-flight', 1, 100000), APP_DEFAULTS.maxInFlight)
    .option('--stream-in-flight <n>', 'WebSocket stream frames in the runtime at once over all streams, taking turns (default: workers + 1)', intOption('--stream-in-flight', 1, 100000))
    .option('--timeout-ms <ms>', 'a request still queued after this long gets 503', intOption('--timeout-ms', 1, 3_600_000), APP_DEFAULTS.requestTimeoutMs)
    .option('--infer-max-batch <n>', 'KServe infer: largest batch per request, else 400', intOption('--infer-max-batch', 1, 1_000_000), APP_DEFAULTS.inferMaxBatch)
    .option('--infer-max-output <values>', 'KServe infer: most values one answer may hold, else 413', intOption('--infer-max-output', 1, 1 << 28), APP_DEFAULTS.inferMaxOutputValues)
    .option('--headers-timeout-ms <ms>', 'request line and headers must arrive within this, else 408', intOption('--headers-timeout-ms', 1, 3_600_000), APP_DEFAULTS.headersTimeoutMs)
    .option('--upload-timeout-ms <ms>', 'a whole request, body included, must arrive within this, else 408', intOption('--upload-timeout-ms', 1, 3_600_000), APP_DEFAULTS.uploadTimeoutMs)
    .option('--idle-timeout-ms <ms>', 'a connection silent this long during a request is closed', intOption('--idle-timeout-ms', 1, 3_600_000), APP_DEFAULTS.idleTimeoutMs)
    .option('--keep-alive-timeout-ms <ms>', 'an idle keep-alive connection is closed after this', intOption('--keep-alive-timeout-ms', 1, 3_600_000), APP_DEFAULTS.keepAliveTimeoutMs)
    .option('--shutdown-timeout-ms <ms>', 'on SIGTERM, requests still running after this are cut', intOption('--shutdown-timeout-ms', 1, 3_600_000), SHUTDOWN_TIMEOUT_MS)
    .option('--allowed-origins <list>', 'browser Origins allowed to call the server (CORS), open /v1/stream or post multipart, comma list or * (default: same-origin and loopback pages)', listOption('origin', '--allowed-origins'))
    .option('--allowed-hosts <list>', 'Host names served, comma list or * (default: loopback names when listening on loopback, else any)', listOption('host', '--allowed-hosts'))
    .option('--watch', 'reload a model when its folder changes')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', logLevel, 'info')
    .option('--log-requests', 'log every request (off by default: it costs throughput)')
    .option('--face-model <name>', 'the model behind DeepStack\'s /v1/vision/face (default: the detector whose one class is "face")')
    .option('--cors <origins>', 'the same list as --allowed-origins (CORS and the Origin checks read one list)', listOption('origin', '--cors'))
    .action((o: ServeOptions) => run(o));
}
