// Worker threads that run one of our modules. From the sources the module is TypeScript, and a worker
// does not inherit the main thread's tsx loader, so the worker registers it before importing; built
// (dist/, `npm run build`) the module is plain .js and is imported directly. Used by the inference pool,
// the training input pipeline and the KServe body parser.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The URL of tsx's ESM API. */
function tsxApiUrl(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    // some hosts (test runners) do not implement import.meta.resolve
    const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
    return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
  }
}

/**
 * The worker module beside `caller` (its import.meta.url) named `base`: `base`.js when the caller is
 * built, `base`.ts from the sources.
 */
export function siblingModule(caller: string, base: string): string {
  return new URL(`./${base}${caller.endsWith('.js') ? '.js' : '.ts'}`, caller).href;
}

/**
 * The script of an eval worker that imports `moduleUrl` (through tsx when it is .ts), then runs `then`
 * (a statement, e.g. a ready message) once the module is loaded.
 */
export function moduleBootstrap(moduleUrl: string, then = ''): string {
  const load = moduleUrl.endsWith('.js')
    ? `import(${JSON.stringify(moduleUrl)})`
    : `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl)}); })`;
  return then ? `${load}.then(() => { ${then} });` : `${load};`;
}

/** A worker thread running `moduleUrl`. */
export function moduleWorker(moduleUrl: string, options: Omit<WorkerOptions, 'eval'> = {}, then = ''): Worker {
  return new Worker(moduleBootstrap(moduleUrl, then), { ...options, eval: true });
}
