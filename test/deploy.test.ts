// deploy/: every manifest validated offline. Kubernetes kinds and the KEDA / Prometheus Operator CRDs with
// kubernetes-models (their published OpenAPI schemas, compiled) and, for unknown fields (a typo such as
// `readinesProbe` passes a schema that allows additional properties but is refused by the API server's
// strict field validation), with TypeScript's excess-property check against the same packages' types.
// KServe's kinds against types transcribed from its Go API (test/helpers/kserve-types.ts), their
// containers with kubernetes-models. Then the manifests against each other and against the server.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { Container, Service, type IService } from 'kubernetes-models/v1';
import { ScaledObject, type IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { ServiceMonitor, type IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DEFAULTS as APP_DEFAULTS } from '../src/server/app.ts';
import { createMetrics } from '../src/server/metrics.ts';
import type { InferenceService, ServingRuntime } from './helpers/kserve-types.ts';
import { tempDirs } from './helpers/tmp.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
const temp = tempDirs('pinhole-deploy-');

interface Doc { file: string; obj: any }

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []);
}

const docs: Doc[] = yamlFiles(DEPLOY).flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => {
  expect(d.errors, f).toEqual([]);
  return { file: relative(ROOT, f), obj: d.toJSON() };
}));
const manifests = docs.filter((d) => d.obj.kind !== 'Kustomization');
const one = (kind: string) => { const m = manifests.filter((d) => d.obj.kind === kind); expect(m, kind).toHaveLength(1); return m[0].obj; };

// kind -> the library model that validates it at run time and the type that the strict check uses
const KINDS: Record<string, { validate(o: unknown): void; type: string; from: string }> = {
  'apps/v1 Deployment': { validate: (o) => new Deployment(o as IDeployment).validate(), type: 'IDeployment', from: 'kubernetes-models/apps/v1' },
  'v1 Service': { validate: (o) => new Service(o as IService).validate(), type: 'IService', from: 'kubernetes-models/v1' },
  'keda.sh/v1alpha1 ScaledObject': { validate: (o) => new ScaledObject(o as IScaledObject).validate(), type: 'IScaledObject', from: '@kubernetes-models/keda/keda.sh/v1alpha1' },
  'monitoring.coreos.com/v1 ServiceMonitor': { validate: (o) => new ServiceMonitor(o as IServiceMonitor).validate(), type: 'IServiceMonitor', from: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1' },
  'serving.kserve.io/v1alpha1 ServingRuntime': {
    validate: (o) => { for (const c of (o as ServingRuntime).spec.containers) new Container(c).validate(); },
    type: 'ServingRuntime', from: join(ROOT, 'test/helpers/kserve-types.ts'),
  },
  'serving.kserve.io/v1beta1 InferenceService': {
    validate: (o) => { const p = (o as InferenceService).spec.predictor; for (const c of p.containers ?? []) new Container(c).validate(); },
    type: 'InferenceService', from: join(ROOT, 'test/helpers/kserve-types.ts'),
  },
};
const kindOf = (o: any) => `${o.apiVersion} ${o.kind}`;

/** One TypeScript file declaring each manifest as a constant of its kind's type; tsc's diagnostics per constant. */
function strictCheck(sets: Record<string, Doc[]>): Record<string, string[]> {
  const dir = temp();
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
  const files: string[] = [];
  for (const [name, set] of Object.entries(sets)) {
    const imports = [...new Set(set.map((d) => KINDS[kindOf(d.obj)]))].map((k) => `import type { ${k.type} } from ${JSON.stringify(k.from)};`);
    const decls = set.map((d, i) => `// ${d.file}\nexport const m${i}: ${KINDS[kindOf(d.obj)].type} = ${JSON.stringify(d.obj, null, 2)};`);
    writeFileSync(join(dir, `${name}.ts`), [...imports, ...decls].join('\n'));
    files.push(`${name}.ts`);
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, allowImportingTsExtensions: true, types: [] },
    files,
  }));
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
  const out: Record<string, string[]> = Object.fromEntries(Object.keys(sets).map((n) => [n, []]));
  for (const line of (r.stdout + r.stderr).split('\n').filter(Boolean)) {
    const n = /^(\w+)\.ts\(/.exec(line)?.[1];
    if (n && n in out) out[n].push(line); else if (!/^\s/.test(line)) throw new Error(`tsc: ${line}`);
  }
  return out;
}

describe('deploy/ manifests', () => {
  it('are all of kinds the test knows, and pass their schemas', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(6);
    for (const d of manifests) {
      const k = KINDS[kindOf(d.obj)];
      expect(k, `${d.file}: ${kindOf(d.obj)}`).toBeDefined();
      expect(() => k.validate(d.obj), d.file).not.toThrow();
    }
    // the runtime validators do catch a wrong type, so a pass above means something
    const broken = structuredClone(one('Deployment'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(() => KINDS['apps/v1 Deployment'].validate(broken)).toThrow(/containerPort must be integer/);
  });

  it('have no unknown fields and KServe values in range (tsc against the kinds\' types)', () => {
    const bad = (kind: string, mutate: (o: any) => void) => {
      const d = structuredClone(manifests.find((x) => x.obj.kind === kind)!);
      mutate(d.obj);
      return d;
    };
    const result = strictCheck({
      ok: manifests,
      bad: [
        bad('Deployment', (o) => { o.spec.template.spec.containers[0].readinesProbe = o.spec.template.spec.containers[0].readinessProbe; }),
        bad('ServingRuntime', (o) => { o.spec.protocolVersions = ['v3']; }),
        bad('ScaledObject', (o) => { o.spec.minReplicas = 1; }),
      ],
    });
    expect(result.ok).toEqual([]);
    expect(result.bad.join('\n')).toMatch(/readinesProbe/);
    expect(result.bad.join('\n')).toMatch(/"v3"/);
    expect(result.bad.join('\n')).toMatch(/minReplicas/);
  }, 240_000);

  it('agree with each other and with the server', () => {
    const dep = one('Deployment');
    const pod = dep.spec.template;
    const c = pod.spec.containers[0];
    const svc = one('Service');
    const port = (name: string) => c.ports.find((p: any) => p.name === name);
    // Service -> pods, ServiceMonitor -> Service, KEDA -> Deployment
    expect(dep.spec.selector.matchLabels).toEqual(expect.objectContaining(svc.spec.selector));
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
    expect(port(svc.spec.ports[0].targetPort)).toBeDefined();
    const sm = one('ServiceMonitor');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    expect(sm.spec.endpoints.map((e: any) => e.port)).toEqual([svc.spec.ports[0].name]);
    expect(sm.spec.endpoints[0].path).toBe('/metrics');
    const so = one('ScaledObject');
    expect(so.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: dep.metadata.name });
    const trigger = so.spec.triggers[0];
    expect(trigger.type).toBe('prometheus');
    // the query reads a metric the server exports, through the label the ServiceMonitor's targets carry
    const metric = /(pinhole_\w+)\{service="([^"]+)"\}/.exec(trigger.metadata.query);
    expect(metric, trigger.metadata.query).not.toBeNull();
    expect(metric![1]).toBe('pinhole_queue_depth');
    expect(createMetrics({ defaults: false }).registry.getSingleMetric(metric![1])).toBeDefined();
    expect(metric![2]).toBe(svc.metadata.name);
    // probes on the v2 health routes; the port the server listens on
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/v2/health/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/v2/health/live', port: 'http' });
    expect(String(port('http').containerPort)).toBe(c.env.find((e: any) => e.name === 'PORT').value);
    // SIGKILL only after preStop + the longest drain (requests time out at --timeout-ms) + a margin
    const preStop = Number(c.lifecycle.preStop.exec.command.at(-1));
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + APP_DEFAULTS.requestTimeoutMs / 1000 + 5);
    expect(c.resources.requests.memory).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    // KServe: the InferenceService picks this runtime, by format and version, with the v2 protocol
    const sr = one('ServingRuntime');
    const isvc = one('InferenceService');
    const model = isvc.spec.predictor.model;
    expect(model.runtime).toBe(sr.metadata.name);
    expect(model.protocolVersion).toBe('v2');
    expect(sr.spec.protocolVersions).toContain('v2');
    expect(sr.spec.supportedModelFormats).toContainEqual(expect.objectContaining(model.modelFormat));
    expect(sr.spec.containers[0].name).toBe('kserve-container');
    expect(sr.spec.containers[0].args.slice(0, 3)).toEqual(['serve', '--models', '/mnt/models']);
    expect(sr.spec.containers[0].readinessProbe.httpGet.path).toBe('/v2/health/ready');
  });

  it('pass flags that `pinhole serve` accepts', () => {
    const help = spawnSync(process.execPath, [join(ROOT, 'bin/pinhole.js'), 'serve', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    for (const args of [one('Deployment').spec.template.spec.containers[0].args, one('ServingRuntime').spec.containers[0].args]) {
      expect(args[0]).toBe('serve');
      for (const flag of args.filter((a: string) => a.startsWith('--'))) expect(help.stdout, flag).toContain(`${flag} `);
    }
  });

  it('kustomization lists every manifest of its folder', () => {
    for (const k of docs.filter((d) => d.obj.kind === 'Kustomization')) {
      const dir = join(ROOT, k.file, '..');
      const here = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
      expect([...k.obj.resources].sort()).toEqual(here);
    }
  });
});
