// One error type for everything the darknet importer rejects (bad cfg, bad weights, unsupported layer,
// bad names/tree file), so the CLI can print it as one line and tests can tell it from a crash.
export class DarknetError extends Error {
  override readonly name = 'DarknetError';
}

const IO_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ENOSPC: 'no space left on device',
};

/** A file-system failure as one readable line: "cannot read cfg x.cfg: no such file (ENOENT)". */
export function ioError(action: string, path: string, e: unknown): DarknetError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code ? `${IO_REASONS[code] ?? 'error'} (${code})` : (e as Error).message;
  return new DarknetError(`cannot ${action} ${path}: ${why}`);
}
