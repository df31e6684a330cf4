#!/usr/bin/env node
// The `pinhole` command: the compiled build when it is current, else the sources through tsx (bin/entry.js).
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chooseEntry } from './entry.js';

let entry;
try {
  entry = chooseEntry(fileURLToPath(new URL('..', import.meta.url)));
} catch (e) {
  process.stderr.write(`pinhole: ${e.message}\n`);
  process.exit(2);
}
if (entry.from === 'src') {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(pathToFileURL(entry.file).href);
