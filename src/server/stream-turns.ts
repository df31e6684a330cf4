// The frames of every /v1/stream connection take turns for the runtime: at most `slots` of them are in it at
// once (decoding, queued or running), and a stream waiting for a slot gets one in the order it asked. Each
// stream asks once per frame and asks again only after that frame is done, so first come first served is
// round robin over the streams: each gets an equal share, whatever the others send.
// A stream picks its frame when its turn comes, so that is its newest frame then. Without turns every
// stream's frame went into the runtime at once, was decoded, and waited in the batcher's queue behind the
// other streams' (~100 ms at 8 streams of 30 fps on 2 cores) while newer frames came and were dropped:
// results were a queue's length old, and 8 decodes at once fought ONNX Runtime for the cores.

/** A request for a turn: `granted` settles true when it is this stream's turn, false if cancelled first. */
export interface TurnRequest {
  /** a slot was free: granted already (no need to wait for `granted` to settle) */
  now: boolean;
  granted: Promise<boolean>;
  /** gives up a request still waiting (the stream closed); no effect once granted */
  cancel(): void;
}

interface Waiter {
  settle(granted: boolean): void;
}

export class StreamTurns {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new Error(`stream slots must be an integer >= 1, got ${slots}`);
  }

  /** frames in the runtime now */
  get inFlight(): number {
    return this.running;
  }

  /** streams waiting for a turn */
  get queued(): number {
    return this.waiting.length;
  }

  /** Asks for a turn; once granted, `release()` must follow exactly once, when the frame is done. */
  take(): TurnRequest {
    let waiter!: Waiter;
    const granted = new Promise<boolean>((resolve) => { waiter = { settle: resolve }; });
    const now = this.running < this.slots;
    if (now) {
      this.running++;
      waiter.settle(true);
    } else {
      this.waiting.push(waiter);
    }
    return {
      now,
      granted,
      cancel: () => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        waiter.settle(false);
      },
    };
  }

  /** A frame is done: its slot passes to the stream that has waited longest. */
  release(): void {
    const next = this.waiting.shift();
    // the slot passes straight on: running stays the same
    if (next) next.settle(true);
    else this.running = Math.max(0, this.running - 1);
  }
}
