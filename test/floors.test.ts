// The architecture floors hold in src/ and bin/ (dependency-cruiser, test/helpers/floors.ts), and
// the rule set itself catches each kind of back-up import in a fixture tree written for the purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOOR_RULES, floorViolations, type FloorViolation } from './helpers/floors.ts';

const key = (v: FloorViolation) => `${v.rule}: ${v.from} -> ${v.to}`;

describe('architecture floors', () => {
  it('src and bin import only downwards', async () => {
    expect((await floorViolations(['src', 'bin'])).map(key)).toEqual([]);
  }, 60_000);

  const root = mkdtempSync(path.join(tmpdir(), 'pinhole-floors-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const file = (rel: string, ...imports: string[]) => {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, imports.map((m, i) => `import * as m${i} from '${m}';\nexport const v${i} = m${i};\n`).join('') + 'export const here = 1;\n');
  };

  it('fails on each kind of back-up import, and on nothing that flows down', async () => {
    // imports that follow the floors
    file('src/errors.ts');
    file('src/manifest.ts', './errors.ts');
    file('src/vision/math.ts', '../manifest.ts', '../errors.ts');
    file('src/onnx/graph.ts', '../vision/math.ts', '../manifest.ts');
    file('src/train/fit.ts', '../onnx/graph.ts', '../vision/math.ts', '../codec/png.ts');
    file('src/codec/png.ts', '../errors.ts', 'node:zlib');
    file('src/runtime/engine.ts', '../vision/math.ts', 'node:worker_threads', '../codec/png.ts', '../threads/worker.ts');
    file('src/server/app.ts', '../runtime/engine.ts');
    file('src/cli/errors.ts');
    file('src/cli/main.ts', './errors.ts', '../train/fit.ts', '../server/app.ts', '../onnx/graph.ts');
    file('bin/pinhole.ts', '../src/cli/main.ts');
    // one back-up import per rule
    file('src/vision/upward.ts', '../runtime/engine.ts');
    file('src/vision/reads-files.ts', 'node:fs');
    file('src/onnx/uses-train.ts', '../train/fit.ts');
    file('src/train/uses-cli.ts', '../cli/errors.ts');
    file('src/train/uses-runtime.ts', '../runtime/engine.ts');
    file('src/runtime/uses-server.ts', '../server/app.ts');
    file('src/server/uses-train.ts', '../train/fit.ts');
    file('src/codec/uses-runtime.ts', '../runtime/engine.ts');
    file('src/threads/worker.ts', 'node:worker_threads', '../errors.ts');
    file('src/threads/uses-server.ts', '../server/app.ts');
    file('src/errors-helper.ts');
    file('src/vision/ok.ts', '../errors-helper.ts');

    const found = (await floorViolations(['src', 'bin'], root)).map(key).sort();
    expect(found).toEqual([
      'cli-is-the-top: src/train/uses-cli.ts -> src/cli/errors.ts',
      'codec-is-a-floor: src/codec/uses-runtime.ts -> src/runtime/engine.ts',
      'threads-is-a-floor: src/threads/uses-server.ts -> src/server/app.ts',
      'server-not-train: src/server/uses-train.ts -> src/train/fit.ts',
      'onnx-below-train: src/onnx/uses-train.ts -> src/train/fit.ts',
      'runtime-below-server: src/runtime/uses-server.ts -> src/server/app.ts',
      'train-below-cli-beside-serving: src/train/uses-cli.ts -> src/cli/errors.ts',
      'train-below-cli-beside-serving: src/train/uses-runtime.ts -> src/runtime/engine.ts',
      'vision-does-no-io: src/vision/reads-files.ts -> fs',
      'vision-is-the-floor: src/vision/ok.ts -> src/errors-helper.ts',
      'vision-is-the-floor: src/vision/upward.ts -> src/runtime/engine.ts',
    ].sort());
    // every rule is exercised by the fixture above, except the floor files' own rule: check it here
    file('src/manifest.ts', './errors.ts', './vision/math.ts');
    const floor = (await floorViolations(['src'], root)).filter((v) => v.rule === 'floor-files-stand-alone').map(key);
    expect(floor).toEqual(['floor-files-stand-alone: src/manifest.ts -> src/vision/math.ts']);
    const exercised = new Set([...found, ...floor].map((k) => k.split(':')[0]));
    expect([...exercised].sort()).toEqual(FLOOR_RULES.map((r) => r.name).sort());
  }, 60_000);
});
