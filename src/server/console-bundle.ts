// The web console's script, compiled from web/src (TypeScript) by esbuild in memory the first time a browser
// asks for it, then kept. Why not a committed bundle: there is no generated file to forget to rebuild, and
// esbuild already comes with tsx (which runs bin/pinhole). Why lazily: `pinhole serve` starts as fast as
// before; only the first console visit pays the build (tens of ms; see README "Web console").
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export interface ConsoleAssets {
  html: string;
  css: string;
  js: string;
  /** ms esbuild took */
  buildMs: number;
}

let cached: Promise<ConsoleAssets> | undefined;

async function build(): Promise<ConsoleAssets> {
  const t0 = performance.now();
  // imported here, not at the top: a server nobody opens the console on never loads esbuild
  const esbuild = await import('esbuild');
  try {
    const out = await esbuild.build({
      entryPoints: [`${WEB_DIR}src/main.ts`],
      bundle: true,
      write: false,
      format: 'esm',
      target: ['chrome100', 'firefox100', 'safari15'],
      minify: true,
      sourcemap: false,
      logLevel: 'silent',
    });
    const [html, css] = await Promise.all([readFile(`${WEB_DIR}index.html`, 'utf8'), readFile(`${WEB_DIR}console.css`, 'utf8')]);
    return { html, css, js: out.outputFiles[0].text, buildMs: performance.now() - t0 };
  } finally {
    // the esbuild service is a child process: nothing more to compile, so it goes
    await esbuild.stop();
  }
}

/** The console's files; the first call compiles, later ones share the result (a failed build is retried). */
export function consoleAssets(): Promise<ConsoleAssets> {
  if (!cached) {
    cached = build();
    cached.catch(() => { cached = undefined; });
  }
  return cached;
}
