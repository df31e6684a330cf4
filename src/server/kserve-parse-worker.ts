// The worker side of kserve-parse.ts: one large infer body at a time, JSON parsed and its tensors made
// here, off the server's event loop. Replies carry the body back (its binary part) and the tensors'
// buffers, transferred, not copied.
import { parentPort } from 'node:worker_threads';
import { PinholeError } from '../errors.ts';
import { textBatchCheck } from './kserve-caps.ts';
import { convertJsonInputs, splitInferBody } from './kserve-tensors.ts';
import type { ParseReply, ParseRequest } from './kserve-parse.ts';

parentPort!.on('message', (m: ParseRequest) => {
  let reply: ParseReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const body = Buffer.from(m.body, 0, m.length);
    const { json, headerBytes } = splitInferBody(body, m.headerLength, textBatchCheck(m.maxBatch));
    const tensors = convertJsonInputs(json);
    reply = { id: m.id, ok: true, json, headerBytes, tensors, body: m.body };
    transfer.push(m.body, ...tensors.map(([, t]) => t.data.buffer as ArrayBuffer));
  } catch (e) {
    const error = e instanceof PinholeError ? { code: e.code, message: e.message } : { code: 'internal' as const, message: (e as Error).message };
    reply = { id: m.id, ok: false, error };
  }
  parentPort!.postMessage(reply, transfer);
});
