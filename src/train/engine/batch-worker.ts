// Input-pipeline worker: prepares batches (scene generation or decoding, placement, augmentation) on
// its own thread while the main thread trains on the previous batch.
import { parentPort, workerData } from 'node:worker_threads';
import { makeBatch, openSources, type BatchRequest, type SourceConfig } from './batches.ts';

const cfg = workerData as SourceConfig;
const port = parentPort!;
const sources = openSources(cfg);
port.on('message', async (req: BatchRequest) => {
  try {
    const b = await makeBatch(await sources, cfg, req);
    port.postMessage({ ok: true, batch: b }, [b.pixels.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ ok: false, id: req.id, error: (e as Error).stack ?? String(e) });
  }
});
