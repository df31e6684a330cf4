// KServe infer bodies to JSON and tensors. A body may be 64 MiB of JSON numbers: parsed on the event loop
// it stalls every other request, stream and health probe for the best part of a second. Bodies past
// `inlineBytes` are parsed, and their JSON data made typed tensors, in one worker thread, one at a time;
// at most `maxQueued` wait for it (more: 503 with Retry-After, before anything is parsed). Small bodies
// stay inline, where the hop to a thread would cost more than the parse.
import type { Worker } from 'node:worker_threads';
import { PinholeError, type ErrorCode } from '../errors.ts';
import type { RawTensor } from '../runtime/types.ts';
import { moduleWorker, siblingModule } from '../threads/module-worker.ts';
import { textBatchCheck } from './kserve-caps.ts';
import { splitInferBody } from './kserve-tensors.ts';

export interface ParseRequest {
  id: number;
  /** the body's bytes, transferred to the worker and back */
  body: ArrayBuffer;
  length: number;
  headerLength: string | string[] | undefined;
  /** refuse from the JSON text a batch over this (kserve-caps textBatchCap) */
  maxBatch?: number;
}

export type ParseReply =
  | { id: number; ok: true; json: unknown; headerBytes: number; tensors: Array<[number, RawTensor]>; body: ArrayBuffer }
  | { id: number; ok: false; error: { code: ErrorCode; message: string } };

export interface ParsedInfer {
  json: unknown;
  /** the binary tensor data after the JSON */
  binary: Buffer;
  /** inputs whose JSON data is already a tensor, by input index (their `data` removed from `json`) */
  tensors?: Map<number, RawTensor>;
}

export interface InferParserOptions {
  /** bodies up to this many bytes are parsed inline */
  inlineBytes?: number;
  /** large bodies parsing or waiting at once */
  maxQueued?: number;
}

export const INLINE_BYTES = 512 * 1024;
const MAX_QUEUED = 4;

const WORKER_URL = siblingModule(import.meta.url, 'kserve-parse-worker');

export class InferBodyParser {
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve: (r: ParseReply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly inlineBytes: number;
  private readonly maxQueued: number;

  constructor(o: InferParserOptions = {}) {
    this.inlineBytes = o.inlineBytes ?? INLINE_BYTES;
    this.maxQueued = o.maxQueued ?? MAX_QUEUED;
  }

  /** The body's JSON and binary parts; `maxBatch` as kserve-caps' textBatchCap gives it. */
  async parse(body: Buffer, headerLength: string | string[] | undefined, maxBatch?: number): Promise<ParsedInfer> {
    if (body.length <= this.inlineBytes) {
      const { json, binary } = splitInferBody(body, headerLength, textBatchCheck(maxBatch));
      return { json, binary };
    }
    if (this.pending.size >= this.maxQueued) {
      throw new PinholeError('overloaded', `${this.pending.size} large inference bodies are being parsed; retry shortly`, { retryAfter: 1 });
    }
    // the worker takes the bytes: they must own their buffer (a pooled or sliced Buffer is copied first)
    const own = body.byteOffset === 0 && body.buffer.byteLength === body.length ? body : Buffer.from(new Uint8Array(body).buffer);
    const length = own.length; // `own` is detached once its buffer is transferred
    const r = await this.call({ body: own.buffer as ArrayBuffer, length, headerLength, maxBatch });
    if (!r.ok) throw new PinholeError(r.error.code, r.error.message);
    return { json: r.json, binary: Buffer.from(r.body, r.headerBytes, length - r.headerBytes), tensors: new Map(r.tensors) };
  }

  /** Ends the worker; parses in progress fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private call(m: Omit<ParseRequest, 'id'>): Promise<ParseReply> {
    const id = this.nextId++;
    const w = this.started();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...m, id }, [m.body]);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = moduleWorker(WORKER_URL, { stdout: false, stderr: false });
    // a parse in flight keeps the process alive by its request; an idle parser must not
    w.unref();
    w.on('message', (r: ParseReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new PinholeError('internal', `the request parser ${why}`));
      this.pending.clear();
    };
    w.on('error', (e) => fail(`failed: ${e.message}`));
    w.on('exit', (code) => fail(`exited (code ${code})`));
    this.worker = w;
    return w;
  }
}
