// One /v1/stream connection. At most one frame is being processed and at most one waits; a frame that
// arrives while one waits replaces it (newest wins) and the replaced one counts as dropped. A new frame is
// only started once the socket has drained below maxBuffered, so a slow reader gets fewer, fresher results
// instead of an ever-growing send buffer. With `turns` (stream-turns.ts) the waiting frame is only taken
// when the stream's turn for the runtime comes, so it is the newest one at that moment.
import { PinholeError } from '../errors.ts';
import { errorReply } from './errors.ts';
import { parseFrame, type IncomingFrame, type StreamResult } from './frames.ts';
import type { StreamOutcome } from './metrics.ts';
import type { StreamTurns, TurnRequest } from './stream-turns.ts';
import type { DetectionResponse } from '../runtime/types.ts';

export interface StreamSink {
  readonly bufferedAmount: number;
  readonly open: boolean;
  send(data: string | Uint8Array): void;
}

export interface StreamSessionOptions {
  sink: StreamSink;
  detect(frame: IncomingFrame): Promise<DetectionResponse>;
  encode(r: StreamResult): string | Uint8Array;
  onOutcome?(outcome: StreamOutcome): void;
  /** bytes the socket may hold unsent before the next frame waits */
  maxBuffered: number;
  pollMs?: number;
  /** shared by the server's streams: a frame goes to detect only in this stream's turn */
  turns?: StreamTurns;
}

interface Pending {
  seq: number;
  bytes: Uint8Array | { error: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StreamSession {
  private seq = 0;
  private droppedCount = 0;
  private pending: Pending | undefined;
  private running: Promise<void> = Promise.resolve();
  // Set and cleared synchronously inside run(): clearing it in a promise callback would leave a gap in
  // which a frame arriving in the same tick finds the loop "running" and is never picked up.
  private busy = false;
  private closed = false;
  private waitingTurn: TurnRequest | undefined;

  constructor(private readonly options: StreamSessionOptions) {}

  get received(): number { return this.seq; }
  get dropped(): number { return this.droppedCount; }

  /** A binary message from the client. */
  push(bytes: Uint8Array): void {
    this.enqueue(bytes);
  }

  /** A message that cannot be a frame (e.g. text); answered with an error result in turn. */
  reject(reason: string): void {
    this.enqueue({ error: reason });
  }

  private enqueue(bytes: Pending['bytes']): void {
    if (this.closed) return;
    this.seq++;
    if (this.pending) this.drop();
    this.pending = { seq: this.seq, bytes };
    if (!this.busy) this.running = this.run();
  }

  private drop(): void {
    this.droppedCount++;
    this.options.onOutcome?.('dropped');
  }

  /** Resolves when nothing is processing or waiting. */
  async idle(): Promise<void> {
    while (this.busy) await this.running;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waitingTurn?.cancel();
    if (this.pending) { this.pending = undefined; this.drop(); }
  }

  /** This stream's turn: at once when a slot is free, else a wait; false when the stream closed first. */
  private takeTurn(): boolean | Promise<boolean> {
    const request = this.options.turns!.take();
    return request.now || this.waitFor(request);
  }

  private async waitFor(request: TurnRequest): Promise<boolean> {
    this.waitingTurn = request;
    try {
      return await request.granted;
    } finally {
      this.waitingTurn = undefined;
    }
  }

  private async run(): Promise<void> {
    this.busy = true;
    const poll = this.options.pollMs ?? 5;
    // `busy` is cleared in the same synchronous step that finds nothing pending (no await in between).
    try {
      while (this.pending && !this.closed) {
        while (this.options.sink.open && this.options.sink.bufferedAmount > this.options.maxBuffered && !this.closed) await sleep(poll);
        if (!this.options.sink.open || this.closed) break;
        // no await when the turn is free at once: a frame arriving in this same tick must not replace this one
        const turn = this.options.turns ? this.takeTurn() : true;
        if (!(turn === true || await turn)) break;
        try {
          // taken now, not before the turn: whatever arrived while this stream waited replaced it
          const p = this.pending;
          if (!p || this.closed || !this.options.sink.open) break;
          this.pending = undefined;
          await this.process(p);
        } finally {
          this.options.turns?.release();
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async process(p: Pending): Promise<void> {
    let r: StreamResult;
    let outcome: StreamOutcome;
    // known once the message parsed, so a frame that fails later still carries the client's id
    let frame: IncomingFrame | undefined;
    try {
      if (!(p.bytes instanceof Uint8Array)) throw new PinholeError('bad_request', p.bytes.error);
      try { frame = parseFrame(p.bytes); } catch (e) { throw new PinholeError('bad_image', (e as Error).message); }
      const response = await this.options.detect(frame);
      r = { frame: p.seq, id: frame.id, dropped: 0, response };
      outcome = 'processed';
    } catch (e) {
      const er = errorReply(e);
      r = { frame: p.seq, id: frame?.id ?? '0', dropped: 0, error: { code: er.code, message: er.message } };
      outcome = 'error';
    }
    this.options.onOutcome?.(outcome);
    // The count goes out at send time so it includes frames replaced while this one was processing.
    r.dropped = this.droppedCount;
    if (this.options.sink.open && !this.closed) this.options.sink.send(this.options.encode(r));
  }
}
