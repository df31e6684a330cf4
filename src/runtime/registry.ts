// The model folders a runtime serves, each loaded in isolation: a folder that fails to load is listed
// with its error and the others serve. A reload builds the new version beside the old one and swaps it
// in; requests already accepted finish on the version they started on, which is released after.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { PinholeError } from '../errors.ts';
import { isDetector, type Manifest, type ModelKind } from '../manifest.ts';
import { adaptersFor, type ModelAdapters } from './adapters.ts';
import { describeJpegDecoder, jpegDecoder } from './jpeg-turbo.ts';
import { preloadPngDecoder } from './png-pixels.ts';
import { decodesPngItself, pixelLayout } from './preprocess.ts';
import type { Batcher, ModelQueue } from './batcher.ts';
import { modelFile, readManifest } from './folder.ts';
import type { LoadedModel, Sessions } from './sessions.ts';
import { startMark } from './start-trace.ts';
import type { ModelInfo, ModelStatus, RuntimeLogger, RuntimeObserver } from './types.ts';

/** A loaded model as it serves: its sessions, its queue and the adapters that run its jobs. */
export interface Serving extends ModelAdapters {
  model: LoadedModel;
  queue: ModelQueue;
}

interface ModelFolder {
  name: string;
  dir: string;
  status: ModelStatus;
  error?: string;
  /** last manifest read, kept for ModelInfo even when the model failed to load */
  manifest?: Manifest;
  serving?: Serving;
  /** reloads of one folder run one after another */
  chain: Promise<unknown>;
  /** the latest reload's files were checked and handed to the workers (or it failed before that) */
  handedOff: Promise<void>;
}

export interface RegistryOptions {
  modelsDir: string;
  /** serve only these folders of modelsDir */
  only?: readonly string[];
  /** undefined: by execution provider (Sessions.load) */
  maxBatch: number | undefined;
  /** undefined: by execution provider (sessions.ts defaultBatchDelayMs) */
  batchDelayMs?: number;
  warmup: boolean;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ModelRegistry {
  private readonly folders = new Map<string, ModelFolder>();
  /** retired queues and the model each one serves, released once the queue drains */
  private readonly retiring = new Map<ModelQueue, LoadedModel>();
  private readonly releases = new Set<Promise<void>>();
  private watcher?: FSWatcher;
  /** the JPEG decoder, loaded and logged with the first model */
  private jpeg?: Promise<void>;
  private readonly debounce = new Map<string, NodeJS.Timeout>();
  closing = false;

  constructor(
    private readonly options: RegistryOptions,
    private readonly sessions: Sessions,
    private readonly batcher: Batcher,
    private readonly observer: RuntimeObserver,
    private readonly log: RuntimeLogger,
  ) {
    batcher.onDrained = (queue) => this.release(queue);
    sessions.pool.onRespawn = (worker) => this.loadInto(worker);
  }

  /** Every live model into a worker that (re)started: a replaced one, or one a ramp-up starts late. */
  async loadInto(worker: number): Promise<void> {
    for (const f of this.folders.values()) {
      if (f.serving) await this.sessions.reloadInto(worker, f.serving.model, this.options.warmup);
    }
  }

  /** The loaded versions now serving. */
  live(): LoadedModel[] {
    return [...this.folders.values()].flatMap((f) => (f.serving ? [f.serving.model] : []));
  }

  private release(queue: ModelQueue): void {
    const model = this.retiring.get(queue);
    if (!model) return;
    this.retiring.delete(queue);
    const p = this.sessions.release(model).catch((e) => this.log.warn(`releasing ${model.name}: ${message(e)}`));
    this.releases.add(p);
    void p.finally(() => this.releases.delete(p));
  }

  private retire(serving: Serving): void {
    this.retiring.set(serving.queue, serving.model);
    this.batcher.retire(serving.queue);
  }

  models(): ModelInfo[] {
    return [...this.folders.values()].sort((a, b) => a.name.localeCompare(b.name)).map((f) => this.info(f));
  }

  model(name: string): ModelInfo | undefined {
    const f = this.folders.get(name);
    return f && this.info(f);
  }

  /** First ready model of `kind` (by name), or the first ready detector when no kind is given. */
  defaultModel(kind?: ModelKind): ModelInfo | undefined {
    return this.models().find((m) => m.status === 'ready' && m.kind !== undefined && (kind ? m.kind === kind : isDetector({ kind: m.kind })));
  }

  /** The serving version of a model; unknown_model or model_not_ready otherwise. */
  serving(name: string): Serving {
    if (this.closing) throw new PinholeError('model_not_ready', 'the server is shutting down');
    const f = this.folders.get(name);
    if (!f) {
      const names = [...this.folders.keys()].sort();
      throw new PinholeError('unknown_model', `unknown model "${name}"${names.length ? ` (models: ${names.join(', ')})` : ' (no models loaded)'}`);
    }
    if (!f.serving) {
      throw new PinholeError('model_not_ready', f.status === 'loading'
        ? `model "${name}" is still loading` : `model "${name}" failed to load: ${f.error}`);
    }
    return f.serving;
  }

  private info(f: ModelFolder): ModelInfo {
    const m = f.serving?.model.manifest ?? f.manifest;
    const info: ModelInfo = { name: f.name, dir: f.dir, status: f.status };
    if (f.error) info.error = f.error;
    if (m) {
      info.kind = m.kind;
      info.input = m.input;
      info.classes = m.names.length;
      info.names = m.names;
      info.source = m.source;
      if (m.metrics) info.metrics = m.metrics;
    }
    if (f.serving) {
      info.ep = f.serving.model.ep;
      info.maxBatch = f.serving.model.maxBatch;
      info.winograd = f.serving.model.winograd.length;
    }
    return info;
  }

  private notify(f: ModelFolder): void {
    this.observer.onModelStatus?.(this.info(f));
  }

  /** (Re)loads one model folder; a failed reload leaves the previous version serving (ModelInfo.error says why). */
  reload(name: string): Promise<ModelInfo> {
    if (this.closing) return Promise.reject(new PinholeError('model_not_ready', 'the runtime is shutting down'));
    if (!name || name.startsWith('.') || name.includes('/') || name.includes(sep)) {
      return Promise.reject(new PinholeError('unknown_model', `bad model name "${name}"`));
    }
    let f = this.folders.get(name);
    if (!f) {
      f = { name, dir: join(this.options.modelsDir, name), status: 'loading', chain: Promise.resolve(), handedOff: Promise.resolve() };
      this.folders.set(name, f);
    }
    const folder = f;
    let handedOff!: () => void;
    folder.handedOff = new Promise<void>((r) => { handedOff = r; });
    const run = folder.chain.then(() => this.load(folder, handedOff));
    folder.chain = run.catch(() => {});
    void folder.chain.then(handedOff);
    return run;
  }

  /**
   * Resolves once every folder's latest (re)load has been handed to the workers: its sessions are being
   * created on their threads, and nothing more is needed from this one until they are (cold start).
   */
  async handedOff(): Promise<void> {
    await Promise.all([...this.folders.values()].map((f) => f.handedOff));
  }

  private async load(f: ModelFolder, handedOff: () => void): Promise<ModelInfo> {
    if (!(await stat(f.dir).then((s) => s.isDirectory(), () => false))) return this.unloadGone(f);
    if (!f.serving) {
      f.status = 'loading';
      this.notify(f);
    }
    try {
      const serving = await this.loadServing(f, handedOff);
      const old = f.serving;
      f.serving = serving;
      f.status = 'ready';
      f.error = undefined;
      startMark(`runtime: model ${f.name} ready`);
      if (old) this.retire(old);
    } catch (err) {
      const msg = message(err);
      if (f.serving) {
        f.error = `reload failed, previous version still serving: ${msg}`;
      } else {
        f.status = 'error';
        f.error = msg;
      }
      this.log.error(`model ${f.name}: ${f.error}`);
    }
    this.notify(f);
    return this.info(f);
  }

  private async loadServing(f: ModelFolder, handedOff: () => void): Promise<Serving> {
    // the manifest is kept before model.onnx is read: a folder missing only its graph still reports its kind,
    // so a request for it is answered model_not_ready, not "no such model"
    const manifest = await readManifest(f.dir);
    f.manifest = manifest;
    const file = await modelFile(f.dir);
    const loading = this.sessions.load(f.name, f.dir, manifest, file, this.options.maxBatch, this.options.warmup, this.options.batchDelayMs);
    handedOff();
    // its PNGs are decoded without libvips: the decoder's library loads while the sessions do, not on the first request
    if (decodesPngItself(pixelLayout(manifest))) preloadPngDecoder();
    // and the JPEG decoder's, said once in the log as the execution provider is
    this.jpeg ??= jpegDecoder().then((d) => this.log.info(describeJpegDecoder(d)));
    const model = await loading;
    if (this.closing) {
      await this.sessions.release(model);
      throw new Error('runtime closed during load');
    }
    if (manifest.name !== f.name) this.log.info(`model folder ${f.name} holds model.json name "${manifest.name}"; serving it as "${f.name}"`);
    return { model, queue: this.batcher.open(f.name), ...adaptersFor(this.sessions, model, isDetector(manifest)) };
  }

  private unloadGone(f: ModelFolder): never {
    if (this.folders.get(f.name) === f) this.folders.delete(f.name);
    if (f.serving) this.retire(f.serving);
    f.serving = undefined;
    f.status = 'error';
    f.error = 'model folder not found';
    this.log.warn(`model ${f.name}: folder ${f.dir} is gone; unloaded`);
    this.notify(f);
    throw new PinholeError('unknown_model', `unknown model "${f.name}" (no folder ${f.dir})`);
  }

  /** Reloads a folder when something in it changes (debounced: writers touch a file several times). */
  startWatch(): void {
    const dir = this.options.modelsDir;
    try {
      this.watcher = watch(dir, { recursive: true }, (_event, file) => {
        const name = file ? String(file).split(sep)[0] : '';
        if (!name || name.startsWith('.')) return;
        clearTimeout(this.debounce.get(name));
        this.debounce.set(name, setTimeout(() => this.changed(name), 300));
      });
      this.watcher.on('error', (err) => this.log.warn(`watching ${dir}: ${err.message}`));
    } catch (err) {
      this.log.warn(`cannot watch ${dir}: ${message(err)}; use reload instead`);
    }
  }

  private changed(name: string): void {
    this.debounce.delete(name);
    if (this.closing || (this.options.only && !this.options.only.includes(name))) return;
    if (this.folders.has(name)) {
      this.reload(name).catch(() => {});
      return;
    }
    void stat(join(this.options.modelsDir, name)).then((s) => { if (s.isDirectory()) return this.reload(name); }, () => {}).catch(() => {});
  }

  /** Stops watching and loading; every version is retired (released once drained). */
  async close(): Promise<void> {
    this.closing = true;
    this.watcher?.close();
    for (const t of this.debounce.values()) clearTimeout(t);
    this.debounce.clear();
    await Promise.allSettled([...this.folders.values()].map((f) => f.chain));
    for (const f of this.folders.values()) {
      if (f.serving) this.retire(f.serving);
      f.serving = undefined;
    }
  }

  /** Resolves once every retired model's sessions are released. */
  async released(): Promise<void> {
    await Promise.allSettled([...this.releases]);
  }
}
