// No function over 80 lines (README, project rules), per folder: the long ones are split along their
// phases. One test per folder, so other folders join by adding a line here.
import { describe, expect, it } from 'vitest';
import { longFunctions } from './helpers/function-length.ts';

const LIMIT = 80;
const FOLDERS = ['src/train', 'src/onnx'];

describe(`functions of at most ${LIMIT} lines`, () => {
  it.each(FOLDERS)('%s', (dir) => {
    const long = longFunctions(dir, LIMIT).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`);
    expect(long).toEqual([]);
  });

  it('the check finds a long function, nested ones included', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'pinhole-fnlen-'));
    try {
      const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
      writeFileSync(path.join(dir, 'a.ts'), [
        `export function short(x: number) {\n${body(77)}\n  return x;\n}`,
        `export function long(x: number) {\n${body(78)}\n  return x;\n}`,
        `export class C {\n  m(x: number) {\n    const inner = (y: number) => {\n${body(81)}\n      return y;\n    };\n    return inner(x);\n  }\n}`,
      ].join('\n'));
      expect(longFunctions(dir, LIMIT).map((f) => `${f.name}:${f.line}:${f.lines}`)).toEqual(['long:81:81', 'm:163:87', 'inner:164:84']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
