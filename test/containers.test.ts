// The container images without a Docker engine (none on the developers' machines): both Dockerfiles are
// linted (dockerfile-utils, the VS Code Docker extension's validator), checked against the repository
// (every COPY source exists and is not .dockerignored; the build stage holds what `npm run build` reads),
// and each image's last stage is assembled as a folder the way its COPY lines lay it out and run with
// its ENV, ENTRYPOINT, CMD and HEALTHCHECK: the compiled build serves detections without src/ or tsx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import semver from 'semver';
import { tempDirs } from './helpers/tmp.ts';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const temp = tempDirs('pinhole-image-');
const DOCKERFILES = ['Dockerfile.cpu', 'Dockerfile'];

interface Step { keyword: string; args: string[]; raw: string; from?: string; json?: string[] }
interface Stage { image: string; name?: string; steps: Step[] }

function stages(file: string): Stage[] {
  const d = DockerfileParser.parse(readFileSync(join(ROOT, file), 'utf8'));
  const out: Stage[] = [];
  for (const i of d.getInstructions() as Array<Instruction & { getFromFlag?(): { getValue(): string | null } | null; getJSONStrings?(): Array<{ getJSONValue(): string }> }>) {
    const args = i.getArguments().map((a) => a.getValue());
    if (i.getKeyword() === 'FROM') { out.push({ image: args[0], name: args[2], steps: [] }); continue; }
    const json = i.getJSONStrings?.().map((s) => s.getJSONValue());
    out.at(-1)!.steps.push({ keyword: i.getKeyword(), args, raw: i.getRawArgumentsContent() ?? '', from: i.getFromFlag?.()?.getValue() ?? undefined, json: json?.length ? json : undefined });
  }
  return out;
}

const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const isIgnored = (p: string) => ignored.some((g) => g === p || g === p.split('/')[0] || (g.startsWith('*') && p.endsWith(g.slice(1))));

/** The last stage's ENV as a record. */
function env(stage: Stage): Record<string, string> {
  const e: Record<string, string> = {};
  for (const s of stage.steps.filter((x) => x.keyword === 'ENV')) for (const kv of s.args) { const [k, ...v] = kv.split('='); e[k] = v.join('='); }
  return e;
}

describe.each(DOCKERFILES)('%s', (file) => {
  const [build, final] = stages(file);

  it('passes the Dockerfile linter', () => {
    expect(validate(readFileSync(join(ROOT, file), 'utf8'))).toEqual([]);
  });

  it('builds from the repository: COPY sources exist, nothing needed is .dockerignored, npm run build has its inputs', () => {
    expect(build.name).toBe('build');
    for (const st of [build, final]) {
      for (const s of st.steps.filter((x) => x.keyword === 'COPY' && !x.from)) {
        for (const src of s.args.filter((a) => !a.startsWith('--')).slice(0, -1)) {
          expect(existsSync(join(ROOT, src)), `${file}: COPY ${src}`).toBe(true);
          expect(isIgnored(src), `${file}: COPY ${src} is in .dockerignore`).toBe(false);
        }
      }
    }
    const copied = build.steps.filter((x) => x.keyword === 'COPY').flatMap((x) => x.args.slice(0, -1));
    const runs = build.steps.filter((x) => x.keyword === 'RUN').map((x) => x.raw);
    // npm ci needs the lock, and .npmrc keeps dependency install scripts off
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc']));
    expect(runs.findIndex((r) => /\bnpm ci\b/.test(r))).toBe(0);
    expect(runs.some((r) => /npm run build/.test(r) && /npm prune --omit=dev/.test(r))).toBe(true);
    // what `npm run build` reads: its tsconfig, the one it extends, and the folders it includes
    const m = /tsc -p (\S+)/.exec(pkg.scripts.build);
    expect(m).not.toBeNull();
    const tsconfig = JSON.parse(readFileSync(join(ROOT, m![1]), 'utf8'));
    for (const need of [m![1], tsconfig.extends.replace(/^\.\//, ''), ...tsconfig.include]) expect(copied, need).toContain(need);
    // the base images run a Node version package.json claims
    for (const st of [build, final]) {
      const tag = /^node:(\d+)/.exec(st.image)?.[1];
      if (tag) expect(semver.intersects(`${tag}.x`, pkg.engines.node), st.image).toBe(true);
    }
    expect(build.image).toMatch(/^node:20-/);
  });

  it('its last stage runs the compiled build, listens where it says, and checks readiness on /v2/health/ready', () => {
    const e = env(final);
    expect(e.PINHOLE_FROM).toBe('dist');
    expect(e.HOST).toBe('0.0.0.0');
    expect(final.steps.find((s) => s.keyword === 'EXPOSE')?.args).toEqual([e.PORT]);
    const fromBuild = final.steps.filter((s) => s.keyword === 'COPY' && s.from === 'build').map((s) => s.args.at(-1));
    expect(fromBuild).toEqual(expect.arrayContaining(['./node_modules', './dist']));
    expect(final.steps.some((s) => s.keyword === 'COPY' && s.args[0] === 'src')).toBe(false);
    const hc = final.steps.find((s) => s.keyword === 'HEALTHCHECK')!;
    expect(hc.raw).toMatch(/\/v2\/health\/ready/);
    expect(final.steps.find((s) => s.keyword === 'USER')?.args[0]).not.toBe('root');
  });
});

describe('the images\' last stages, assembled and run', () => {
  let buildOut: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    // The build stage's `npm run build`, into a scratch folder.
    buildOut = temp();
    const m = /tsc -p (\S+)/.exec(pkg.scripts.build)!;
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, m[1]), '--outDir', join(buildOut, 'dist')],
      { encoding: 'utf8', timeout: 280_000 });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 300_000);
  afterAll(() => { for (const c of children) c.kill('SIGKILL'); });

  /** The folder WORKDIR /app becomes: each COPY of the last stage, from the build output or the repository. */
  function assemble(stage: Stage): string {
    const app = temp();
    for (const s of stage.steps.filter((x) => x.keyword === 'COPY')) {
      const [src, dest] = [s.args.filter((a) => !a.startsWith('--')).slice(0, -1), s.args.at(-1)!];
      // outside WORKDIR: the CUDA image's node binary (this test runs on the Node it runs on)
      if (dest.startsWith('/')) { expect(src).toEqual(['/usr/local/bin/node']); continue; }
      for (const from of src) {
        const target = dest.endsWith('/') ? join(app, dest, from.split('/').at(-1)!) : join(app, dest);
        mkdirSync(join(target, '..'), { recursive: true });
        if (s.from === 'build') {
          const rel = from.replace(/^\/app\//, '');
          // node_modules: the checkout's (the image's is the same lock, pruned of dev packages)
          if (rel === 'node_modules') symlinkSync(join(ROOT, 'node_modules'), target);
          else cpSync(join(buildOut, rel), target, { recursive: true });
        } else if (from === 'models') {
          // large and read-only: linked, not copied
          symlinkSync(join(ROOT, from), target);
        } else {
          cpSync(join(ROOT, from), target, { recursive: true });
        }
      }
    }
    return app;
  }

  it.each(DOCKERFILES)('%s: ENTRYPOINT + CMD serve the shipped models from dist/, the HEALTHCHECK passes, SIGTERM exits 0', async (file) => {
    const final = stages(file)[1];
    const app = assemble(final);
    // of src/, only what the web console bundles; the server itself runs from dist/
    expect(existsSync(join(app, 'src/cli'))).toBe(false);
    const entry = final.steps.find((s) => s.keyword === 'ENTRYPOINT')!.json!;
    const cmd = final.steps.find((s) => s.keyword === 'CMD')!.json!;
    expect(entry[0]).toBe('node');
    // the image's environment, on a loopback port of our choosing
    const e: NodeJS.ProcessEnv = { ...process.env, ...env(final), HOST: '127.0.0.1', PORT: '0' };
    delete e.ONNXRUNTIME_NODE_INSTALL;
    const child = spawn(process.execPath, [...entry.slice(1), ...cmd], { cwd: app, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c) => { out += c; });
    child.stderr!.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let url: string | undefined;
    for (const t0 = Date.now(); !url && Date.now() - t0 < 120_000 && child.exitCode === null;) {
      url = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 100));
    }
    expect(url, out).toBeDefined();

    // HEALTHCHECK CMD [...], run as Docker would, with the image's PORT
    const hc = JSON.parse(final.steps.find((s) => s.keyword === 'HEALTHCHECK')!.raw.replace(/^[\s\S]*?CMD\s+/, '')) as string[];
    expect(hc[0]).toBe('node');
    const port = new URL(url!).port;
    const probe = spawnSync(process.execPath, hc.slice(1), { env: { ...e, PORT: port }, timeout: 10_000 });
    expect(probe.status).toBe(0);

    const png = readFileSync(join(ROOT, 'examples/shapes.png'));
    const r = await fetch(`${url}/v1/detect?model=yolov2-synth`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    const body = await r.json() as { detections: Array<{ class: string }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.detections.map((d) => d.class)).toContain('heart');
    const models = await (await fetch(`${url}/v1/models`)).json() as { models: Array<{ name: string; ready: boolean; ep: string }> };
    expect(models.models.every((m) => m.ready && m.ep === 'cpu'), JSON.stringify(models)).toBe(true);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(`pinhole_build_info{version="${pkg.version}"`);
    // the web console compiles from what the image holds
    const js = await fetch(`${url}/console.js`);
    expect(js.status, await js.clone().text()).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // the probe fails once the server is gone
    expect(spawnSync(process.execPath, hc.slice(1), { env: { ...e, PORT: port }, timeout: 10_000 }).status).toBe(1);
  }, 180_000);
});
