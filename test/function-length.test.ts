// No function over 80 lines (a long one is split along its phases), one test per folder: the serving
// floors (src/server, src/runtime, src/vision) and training / import (src/train, src/onnx).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { longFunctions, longFunctionsUnder } from './helpers/function-length.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIMIT = 80;
const FOLDERS = ['src/server', 'src/runtime', 'src/vision', 'src/train', 'src/onnx'];

describe('function length', () => {
  it.each(FOLDERS)(`no function over ${LIMIT} lines in %s`, (dir) => {
    const long = longFunctionsUnder(ROOT, [dir], LIMIT);
    expect(long.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual([]);
  });

  it('the check finds long functions of every form, nested ones too, and passes short ones', () => {
    const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  x += ${i};`).join('\n');
    const src = [
      `function shortOne() {\n${body(LIMIT)}\n}`,
      `function longOne() {\n${body(LIMIT + 1)}\n}`,
      `const arrow = () => {\n${body(LIMIT + 5)}\n};`,
      `class K {\n  method() {\n${body(LIMIT + 1)}\n  }\n}`,
      `export async function plugin(app) {\n  app.get('/', async () => {\n${body(LIMIT + 1)}\n  });\n}`,
    ].join('\n');
    const found = longFunctions('x.ts', src, LIMIT).map((f) => [f.name, f.lines]);
    expect(found).toEqual([['longOne', LIMIT + 1], ['arrow', LIMIT + 5], ['method', LIMIT + 1], ['plugin', LIMIT + 3], ['callback of app.get', LIMIT + 1]]);
  });
});
