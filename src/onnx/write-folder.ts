// A model folder appears whole or not at all: written under a temporary name beside its final place, then
// renamed, so a server watching the models folder never loads half a folder and a failed import leaves nothing.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes model.onnx + model.json as the folder `out` (absolute, not existing); on failure removes what it made and rethrows. */
export function writeModelFolder(out: string, onnx: Uint8Array, manifest: object): void {
  const parent = dirname(out);
  // the first missing ancestor we create, removed again if anything below fails
  let created: string | undefined;
  let tmp: string | undefined;
  try {
    created = mkdirSync(parent, { recursive: true });
    tmp = mkdtempSync(join(parent, `.${basename(out)}.tmp-`));
    writeFileSync(join(tmp, 'model.onnx'), onnx);
    writeFileSync(join(tmp, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
    chmodSync(tmp, 0o755); // mkdtemp makes it 0700; the server may run as another user
    renameSync(tmp, out);
  } catch (e) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (created) rmSync(created, { recursive: true, force: true });
    throw e;
  }
}
