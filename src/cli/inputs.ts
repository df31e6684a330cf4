// What `pinhole detect` is pointed at: image files, folders of images, glob patterns, `-` (one image on
// stdin) and video files. Expanded once, in the order given (a folder's or a glob's files sorted by name).
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { glob } from 'tinyglobby';
import { UsageError } from './errors.ts';

export const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.heic', '.heif', '.avif']);
export const VIDEO_EXTS = new Set(['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts', '.y4m', '.flv', '.wmv']);

export type Input =
  | { kind: 'image'; name: string; path: string }
  | { kind: 'stdin'; name: '-' }
  | { kind: 'video'; name: string; path: string };

const ext = (p: string) => extname(p).toLowerCase();
const isGlob = (s: string) => /[*?[\]{}]/.test(s);

function fileInput(path: string): Input {
  return VIDEO_EXTS.has(ext(path)) ? { kind: 'video', name: path, path } : { kind: 'image', name: path, path };
}

/** Files of a folder that are images or videos (not recursive: a folder of folders is a dataset, not an input). */
async function folder(dir: string): Promise<Input[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isFile() && (IMAGE_EXTS.has(ext(d.name)) || VIDEO_EXTS.has(ext(d.name))))
    .map((d) => d.name)
    .sort();
  return names.map((n) => fileInput(join(dir, n)));
}

/** Expands the command line's inputs; a name that matches nothing is a usage error, named. */
export async function expandInputs(args: readonly string[]): Promise<Input[]> {
  const out: Input[] = [];
  let stdin = 0;
  for (const a of args) {
    if (a === '-') {
      if (++stdin > 1) throw new UsageError('"-" (stdin) can be given once');
      out.push({ kind: 'stdin', name: '-' });
      continue;
    }
    const st = await stat(a).catch(() => undefined);
    if (st?.isDirectory()) {
      const files = await folder(a);
      if (!files.length) throw new UsageError(`${a}: no image or video files in this folder`);
      out.push(...files);
    } else if (st) {
      out.push(fileInput(a));
    } else if (isGlob(a)) {
      const files = (await glob(a, { onlyFiles: true, expandDirectories: false })).sort();
      if (!files.length) throw new UsageError(`${a}: no file matches`);
      out.push(...files.map(fileInput));
    } else {
      throw new UsageError(`${a}: no such file or folder`);
    }
  }
  return out;
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The bytes of an image input (stdin is read once, by the caller). */
export async function imageBytes(inp: Input, stdin: () => Promise<Buffer>): Promise<Buffer> {
  if (inp.kind === 'stdin') return stdin();
  if (inp.kind === 'video') throw new Error(`${inp.name} is a video`);
  try {
    return await readFile(inp.path);
  } catch (e) {
    throw new Error(`${inp.name}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
