// Packaging: the Node versions package.json claims are ones every installed dependency supports; npm runs
// quietly in the checkout; test-only packages stay out of the runtime; bin/pinhole.js picks the compiled
// build only when it is current. (The compiled build serving for real, in the container layout:
// test/containers.test.ts.)
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import semver from 'semver';
import { chooseEntry } from '../bin/entry.js';
import { tempDirs } from './helpers/tmp.ts';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const temp = tempDirs('pinhole-pack-');

describe('engines and dependencies', () => {
  it('every locked package installable here supports every Node version package.json claims', () => {
    const claimed: string = pkg.engines.node;
    expect(semver.satisfies(process.versions.node, claimed)).toBe(true);
    const misfits: string[] = [];
    let checked = 0;
    for (const [path, p] of Object.entries<any>(lock.packages)) {
      if (!path || !p.engines?.node) continue;
      // what npm installed here (it skips optional packages for other platforms and what only they need)
      if (!existsSync(join(ROOT, path, 'package.json'))) continue;
      checked++;
      if (!semver.subset(claimed, p.engines.node)) misfits.push(`${path} ${p.version} needs node ${p.engines.node}`);
    }
    expect(checked).toBeGreaterThan(20);
    expect(misfits, `package.json claims node ${claimed}`).toEqual([]);
    // the lock's root entry agrees with package.json
    expect(lock.packages[''].engines.node).toBe(claimed);
  });

  it('npm reads the project config without warnings (no unknown .npmrc keys)', () => {
    const r = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: '' } });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('"pinhole"');
    expect(r.stderr).not.toMatch(/warn/i);
    // dependency install scripts stay off, whatever the npm version (onnxruntime-node's would fetch CUDA
    // libraries from api.nuget.org)
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
  });

  it('ws is a devDependency and nothing under src/ imports it', () => {
    expect(pkg.dependencies.ws).toBeUndefined();
    expect(pkg.devDependencies.ws).toBeDefined();
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/from ['"]ws['"]|import\(['"]ws['"]\)|require\(['"]ws['"]\)/.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    walk(join(ROOT, 'src'));
    expect(offenders).toEqual([]);
  });
});

describe('bin/pinhole.js: compiled build or sources', () => {
  function tree(files: Record<string, number>): string {
    const root = temp();
    for (const [f, mtimeS] of Object.entries(files)) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), '');
      utimesSync(join(root, f), mtimeS, mtimeS);
    }
    return root;
  }
  const T = 1_700_000_000;

  it('runs dist/ only when it is newer than every source file', () => {
    const built = tree({ 'src/cli/main.ts': T, 'src/vision/nms.ts': T + 5, 'dist/cli/main.js': T + 10 });
    expect(chooseEntry(built, undefined).from).toBe('dist');
    const edited = tree({ 'src/cli/main.ts': T, 'src/vision/nms.ts': T + 20, 'dist/cli/main.js': T + 10 });
    expect(chooseEntry(edited, undefined)).toMatchObject({ from: 'src', why: 'a source file is newer than the build' });
    expect(chooseEntry(tree({ 'src/cli/main.ts': T }), undefined)).toMatchObject({ from: 'src', why: 'no build in dist/' });
    expect(chooseEntry(tree({ 'dist/cli/main.js': T }), undefined).from).toBe('dist');
  });

  it('PINHOLE_FROM forces one, and says what is missing', () => {
    const both = tree({ 'src/cli/main.ts': T + 20, 'dist/cli/main.js': T });
    expect(chooseEntry(both, 'dist').from).toBe('dist');
    expect(chooseEntry(both, 'src').from).toBe('src');
    expect(() => chooseEntry(tree({ 'src/cli/main.ts': T }), 'dist')).toThrow(/npm run build/);
    expect(() => chooseEntry(both, 'js')).toThrow(/PINHOLE_FROM must be "src" or "dist"/);
  });
});
