// Which code `pinhole` runs. The compiled build (dist/, `npm run build`) starts faster (bench/cold-start.ts);
// the TypeScript sources through tsx work right after `npm ci`. dist/ is used when it is there and no
// source file is newer than it, so an edit made after a build is never silently ignored; a tree without
// src/ (the container images) always runs dist/. PINHOLE_FROM=src or PINHOLE_FROM=dist forces one.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Latest modification time of any file under dir, ms. */
function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * @param {string} root the package folder (holds src/ and/or dist/)
 * @param {string | undefined} force 'src' | 'dist' | undefined
 * @returns {{ from: 'src' | 'dist', file: string, why: string }}
 */
export function chooseEntry(root, force = process.env.PINHOLE_FROM) {
  const src = join(root, 'src', 'cli', 'main.ts');
  const dist = join(root, 'dist', 'cli', 'main.js');
  if (force !== undefined && force !== '' && force !== 'src' && force !== 'dist') {
    throw new Error(`PINHOLE_FROM must be "src" or "dist", got "${force}"`);
  }
  if (force === 'src' || force === 'dist') {
    const file = force === 'src' ? src : dist;
    if (!existsSync(file)) throw new Error(`PINHOLE_FROM=${force}: ${file} not found${force === 'dist' ? ' (run `npm run build`)' : ''}`);
    return { from: force, file, why: 'PINHOLE_FROM' };
  }
  if (!existsSync(dist)) return { from: 'src', file: src, why: 'no build in dist/' };
  if (!existsSync(src)) return { from: 'dist', file: dist, why: 'no sources' };
  const built = statSync(dist).mtimeMs;
  return newestMtime(join(root, 'src')) > built
    ? { from: 'src', file: src, why: 'a source file is newer than the build' }
    : { from: 'dist', file: dist, why: 'the build is current' };
}
