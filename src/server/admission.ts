// One admission, deadline and size policy for every route that runs a model (detect, KServe infer,
// generate, sample). A slot is taken only once the request's body has arrived: a client that stalls mid-
// upload holds a socket (cut by the upload timeout), never a slot, so slow clients cannot starve fast ones.
import type { FastifyReply } from 'fastify';
import { PinholeError } from '../errors.ts';

export interface AdmissionOptions {
  /** requests running a model at once (after their body arrived); beyond it: 503 + Retry-After */
  maxInFlight: number;
  /** a request not answered by then leaves the queue with 503 */
  requestTimeoutMs: number;
}

export class Admission {
  private running = 0;

  constructor(readonly o: AdmissionOptions) {}

  get inFlight(): number { return this.running; }

  /**
   * Takes a slot for this request until its response closes (answered or the client gone) and returns
   * its deadline. Throws overloaded when every slot is taken.
   */
  enter(reply: FastifyReply): { deadlineMs: number } {
    if (this.running >= this.o.maxInFlight) {
      throw new PinholeError('overloaded', `server busy: ${this.running} requests in flight (the limit is ${this.o.maxInFlight})`, { retryAfter: 1 });
    }
    this.running++;
    // 'close' fires exactly once, whether the response finished or the client went away.
    reply.raw.once('close', () => { this.running--; });
    return { deadlineMs: Date.now() + this.o.requestTimeoutMs };
  }
}
