// Listening and shutting down. Shutdown order matters: stop accepting (readiness turns false, the listening
// socket closes, idle keep-alive connections close), let in-flight requests finish, then release the runtime.
import type { FastifyInstance } from 'fastify';
import type { ServerRuntime } from './contract.ts';

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** idempotent; resolves once in-flight requests are answered and the runtime is closed */
  close(): Promise<void>;
}

export interface StartOptions {
  app: FastifyInstance;
  runtime: ServerRuntime;
  host: string;
  port: number;
  /** after this long, requests still running are cut and the runtime closed anyway */
  shutdownTimeoutMs?: number;
}

/** Requests whose bytes were already sent when shutdown began are read (and answered) before idle sockets close. */
const DRAIN_GRACE_MS = 50;
export const SHUTDOWN_TIMEOUT_MS = 25_000;

export async function startServer(o: StartOptions): Promise<RunningServer> {
  await o.app.listen({ host: o.host, port: o.port });
  const addr = o.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // From here every answer carries Connection: close and new requests get 503 + Retry-After, so
      // keep-alive clients go elsewhere instead of holding the server open until their idle timeout.
      o.app.pinholeDrain?.start();
      await new Promise((r) => setTimeout(r, DRAIN_GRACE_MS));
      const timeout = o.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS;
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          o.app.log.warn(`shutdown: requests still running after ${timeout} ms, closing connections`);
          o.app.server.closeAllConnections();
          resolve();
        }, timeout);
        timer.unref();
      });
      try {
        // stops listening, closes WebSockets with 1001 and idle keep-alive sockets, waits for the rest
        await Promise.race([o.app.close(), cut]);
      } finally {
        clearTimeout(timer);
        await o.runtime.close();
      }
    })();
    return closing;
  };
  return { app: o.app, url: `http://${host}:${port}`, port, close };
}

/** SIGTERM/SIGINT: graceful close then exit 0; a second signal exits at once. */
export function closeOnSignals(server: RunningServer, exit: (code: number) => void = (c) => process.exit(c)): void {
  let seen = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (seen) { server.app.log.warn(`${sig} again: exiting now`); exit(1); return; }
    seen = true;
    server.app.log.info(`${sig}: finishing in-flight requests, then exiting`);
    server.close().then(() => exit(0), (e: unknown) => { server.app.log.error({ err: e }, 'shutdown failed'); exit(1); });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
