// Classification folders in the ImageNet layout: DIR/<class name>/<image>. Class order: sorted
// folder names, unless the caller fixes the names (e.g. the WordTree's leaves).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkIndex, isDir, listImages } from './files.ts';
import { decodeRgb } from './image.ts';
import type { ClassificationDataset } from './types.ts';

export async function openImageFolder(dir: string, opts: { names?: readonly string[] } = {}): Promise<ClassificationDataset> {
  if (!(await isDir(dir))) throw new Error(`classification folder not found: ${dir}`);
  const folders = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (folders.length === 0) throw new Error(`${dir}: no class subfolders (expected DIR/<class>/<image>)`);
  const names = opts.names ? [...opts.names] : folders;
  const items: { path: string; label: number }[] = [];
  for (const f of folders) {
    const label = names.indexOf(f);
    if (label < 0) continue;
    for (const p of await listImages(join(dir, f))) items.push({ path: p, label });
  }
  if (items.length === 0) throw new Error(`${dir}: no images in the class folders`);
  return {
    names,
    size: items.length,
    get: async (i) => {
      checkIndex(i, items.length);
      const img = await decodeRgb(items[i].path);
      return { id: items[i].path.slice(dir.length + 1), ...img, label: items[i].label };
    },
  };
}
