// Packaging: the Node versions package.json claims are ones every installed dependency supports; npm runs
// quietly in the checkout; test-only packages stay out of the runtime; bin/pinhole.js picks the compiled
// build only when it is current; and the compiled build (dist/, no tsx, no sources) serves for real.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import semver from 'semver';
import { chooseEntry } from '../bin/entry.js';
import { tempDirs } from './helpers/tmp.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

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

describe('the compiled build', () => {
  it('builds with tsc into dist/ and serves detections without the sources or tsx', async () => {
    // A package folder with the build and what it reads at run time, and no src/: bin must pick dist/,
    // and the inference worker threads must start from their compiled .js.
    const app = temp();
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')],
      { encoding: 'utf8', timeout: 240_000 });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    expect(readdirSync(join(app, 'dist/runtime'))).toContain('worker.js');
    cpSync(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'proto'), join(app, 'proto'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7-test' }));
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
    const models = temp();
    writeTinyModel(models, 'tiny');

    const child = spawn(process.execPath, [join(app, 'bin/pinhole.js'), 'serve', '--models', models, '--port', '0', '--workers', '1'],
      { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PINHOLE_FROM: '' } });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      let url: string | undefined;
      for (const t0 = Date.now(); !url && Date.now() - t0 < 60_000;) {
        url = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(out)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 50));
      }
      expect(url, out).toBeDefined();
      const png = readFileSync(join(ROOT, 'examples/shapes.png'));
      const r = await fetch(`${url}/v1/detect?model=tiny&thresh=0`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
      const body = await r.json() as { model: string; image: object; detections: unknown[] };
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ model: 'tiny', image: { width: 256, height: 256 } });
      expect(body.detections.length).toBeGreaterThan(0);
      // the version comes from the package.json next to the build
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^pinhole_build_info\{version="9\.8\.7-test",/m);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 300_000);
});
