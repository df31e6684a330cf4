// Filesystem helpers shared by the dataset loaders.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** Extensions sharp decodes that datasets use. */
export const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.bmp']);

export function isImage(path: string): boolean {
  return IMAGE_EXTS.has(extname(path).toLowerCase());
}

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Image files under `dir`, recursively, sorted by path so that indices are stable. */
export async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && isImage(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Reads a class-names file: one name a line, blank lines and surrounding spaces dropped. */
export function parseNamesFile(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

export function checkIndex(index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`index ${index} out of range [0, ${size})`);
}
