// The input pipeline: batch requests go to a worker thread that builds them while the main thread
// computes; results come back in order. `inProcess` builds them on the main thread instead (tests,
// environments without worker support); the batches are identical either way.
import { moduleWorker, siblingModule } from '../../threads/module-worker.ts';
import { makeBatch, openSources, type Batch, type BatchRequest, type SourceConfig, type Sources } from './batches.ts';

export interface Pipeline {
  /** starts building a batch; resolve order = request order */
  request(req: Omit<BatchRequest, 'id'>): Promise<Batch>;
  close(): Promise<void>;
}

export async function openPipeline(cfg: SourceConfig, opts: { inProcess?: boolean } = {}): Promise<Pipeline> {
  if (opts.inProcess) {
    const src: Sources = await openSources(cfg);
    let id = 0;
    return { request: (r) => makeBatch(src, cfg, { ...r, id: id++ }), close: async () => {} };
  }
  const worker = moduleWorker(siblingModule(import.meta.url, 'batch-worker'), { workerData: cfg });
  const pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  let failed: Error | undefined;
  const failAll = (e: Error) => {
    failed = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('message', (m: { ok: true; batch: Batch } | { ok: false; id: number; error: string }) => {
    const id = m.ok ? m.batch.id : m.id;
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (m.ok) p.resolve(m.batch);
    else p.reject(new Error(`input pipeline: ${m.error}`));
  });
  worker.on('error', (e) => failAll(new Error(`input pipeline worker failed: ${e.message}`)));
  worker.on('exit', (code) => {
    if (pending.size > 0) failAll(new Error(`input pipeline worker exited (code ${code})`));
  });
  let id = 0;
  return {
    request(r) {
      if (failed) return Promise.reject(failed);
      const req: BatchRequest = { ...r, id: id++ };
      return new Promise<Batch>((resolve, reject) => {
        pending.set(req.id, { resolve, reject });
        worker.postMessage(req);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
