// Reading one model folder (model.json + model.onnx) with messages that say what is wrong and where.
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { validateManifest, type Manifest } from '../manifest.ts';
import { parseTreeText } from '../vision/wordtree.ts';

export interface ModelFiles {
  manifest: Manifest;
  /**
   * model.onnx, checked to be there and not empty: the inference workers read it themselves (ONNX
   * Runtime reads the file natively), so the main thread neither reads nor holds the weights.
   */
  file: string;
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'not found';
  if (err?.code === 'EACCES') return 'permission denied';
  return err instanceof Error ? err.message : String(e);
}

export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, 'model.json'), 'utf8');
  } catch (e) {
    throw new Error(`model.json: ${reason(e)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`model.json is not valid JSON: ${(e as Error).message}`);
  }
  const m = validateManifest(parsed);
  if (m.kind === 'yolo9000' && typeof m.tree === 'string') {
    // a file beside model.json, never a path that leaves the folder
    const file = basename(m.tree);
    let treeText: string;
    try {
      treeText = await readFile(join(dir, file), 'utf8');
    } catch (e) {
      throw new Error(`tree file ${file}: ${reason(e)}`);
    }
    const tree = parseTreeText(treeText);
    if (tree.parents.length !== m.names.length) {
      throw new Error(`tree file ${file} has ${tree.parents.length} nodes but model.json has ${m.names.length} names`);
    }
    return { ...m, tree };
  }
  return m;
}

export async function readModelFolder(dir: string): Promise<ModelFiles> {
  return { manifest: await readManifest(dir), file: await modelFile(dir) };
}

/** The path of a folder's model.onnx, once it is known to be a non-empty file (see ModelFiles.file). */
export async function modelFile(dir: string): Promise<string> {
  const file = join(dir, 'model.onnx');
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new Error(`model.onnx: ${reason(e)}`);
  }
  if (!st.isFile()) throw new Error('model.onnx is not a file');
  if (st.size === 0) throw new Error('model.onnx is empty');
  return file;
}

/**
 * Whether every named folder declares int8 in its model.json, read before the workers start (the thread
 * plan depends on it: sessions.ts threadPlan). A folder whose model.json cannot be read counts as not int8;
 * the registry reports its error when it loads it.
 */
export async function allInt8(root: string, names: readonly string[]): Promise<boolean> {
  if (names.length === 0) return false;
  const precisions = await Promise.all(names.map(async (n) => {
    try {
      return (JSON.parse(await readFile(join(root, n, 'model.json'), 'utf8')) as { precision?: unknown }).precision;
    } catch {
      return undefined;
    }
  }));
  return precisions.every((p) => p === 'int8');
}

/** Model folder names under `root` (directories, hidden ones skipped), sorted. */
export async function listModelFolders(root: string): Promise<string[]> {
  let st;
  try {
    st = await stat(root);
  } catch (e) {
    throw new Error(`models directory ${root}: ${reason(e)}`);
  }
  if (!st.isDirectory()) throw new Error(`models directory ${root} is not a directory`);
  const ents = await readdir(root, { withFileTypes: true });
  const names: string[] = [];
  for (const e of ents) {
    if (e.name.startsWith('.')) continue;
    // a symlinked model folder counts as a folder
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(root, e.name)).then((s) => s.isDirectory(), () => false)))) names.push(e.name);
  }
  return names.sort();
}
