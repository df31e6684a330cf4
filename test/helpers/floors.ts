// The architecture floors (README "Architecture") as dependency-cruiser rules: data flows one way,
// src/vision <- src/runtime <- src/server and src/train -> src/onnx, with src/cli wiring it all on top
// and src/manifest.ts / src/errors.ts the floor everyone stands on (src/codec beside them, for what
// serving and training both encode, and src/threads, how they all start worker threads). test/floors.test.ts runs them over
// src and bin, and over fixture trees that break each rule on purpose.
import { cruise, type IForbiddenRuleType, type IViolation } from 'dependency-cruiser';

const FLOOR_FILES = 'src/(manifest|errors)\\.ts$';

export const FLOOR_RULES: IForbiddenRuleType[] = [
  {
    name: 'vision-is-the-floor',
    comment: 'src/vision is pure math on typed arrays: it imports only src/manifest.ts, src/errors.ts and its own files',
    severity: 'error',
    from: { path: '^src/vision/' },
    to: { path: '^src/', pathNot: [`^${FLOOR_FILES}`, '^src/vision/'] },
  },
  {
    name: 'vision-does-no-io',
    comment: 'src/vision does no I/O: no Node core modules (fs, net, worker_threads, ...)',
    severity: 'error',
    from: { path: '^src/vision/' },
    to: { dependencyTypes: ['core'] },
  },
  {
    name: 'onnx-below-train',
    comment: 'src/onnx (graph builder, exporters, importers) sits below src/train and beside the serving side',
    severity: 'error',
    from: { path: '^src/onnx/' },
    to: { path: '^src/(train|runtime|server|cli)/' },
  },
  {
    name: 'train-below-cli-beside-serving',
    comment: 'src/train uses src/onnx, src/vision and the floor files; never the CLI or the serving side',
    severity: 'error',
    from: { path: '^src/train/' },
    to: { path: '^src/(cli|server|runtime)/' },
  },
  {
    name: 'runtime-below-server',
    comment: 'src/runtime serves src/server and src/cli; it never reaches up, nor into training',
    severity: 'error',
    from: { path: '^src/runtime/' },
    to: { path: '^src/(server|cli|train)/' },
  },
  {
    name: 'server-not-train',
    comment: 'src/server answers requests from the runtime; training code is not part of the server',
    severity: 'error',
    from: { path: '^src/server/' },
    to: { path: '^src/(train|cli)/' },
  },
  {
    name: 'codec-is-a-floor',
    comment: 'src/codec (image encoding both serving and training use) imports only the floor files and itself',
    severity: 'error',
    from: { path: '^src/codec/' },
    to: { path: '^src/', pathNot: [`^${FLOOR_FILES}`, '^src/codec/'] },
  },
  {
    name: 'threads-is-a-floor',
    comment: 'src/threads (starting worker threads on our modules, for runtime, train and server) imports only the floor files and itself',
    severity: 'error',
    from: { path: '^src/threads/' },
    to: { path: '^src/', pathNot: [`^${FLOOR_FILES}`, '^src/threads/'] },
  },
  {
    name: 'cli-is-the-top',
    comment: 'src/cli wires the commands: only src/cli itself and bin/ import it',
    severity: 'error',
    from: { pathNot: '^(src/cli/|bin/)' },
    to: { path: '^src/cli/' },
  },
  {
    name: 'floor-files-stand-alone',
    comment: 'src/manifest.ts and src/errors.ts import nothing from the folders above them',
    severity: 'error',
    from: { path: `^${FLOOR_FILES}` },
    to: { path: '^src/', pathNot: `^${FLOOR_FILES}` },
  },
];

export interface FloorViolation {
  rule: string;
  from: string;
  to: string;
}

/**
 * Cruises `roots` (paths relative to `baseDir`) and returns every import that breaks FLOOR_RULES.
 * Type-only imports count (tsPreCompilationDeps): a type is as much a dependency of the design.
 */
export async function floorViolations(roots: string[], baseDir = process.cwd()): Promise<FloorViolation[]> {
  const result = await cruise(roots, {
    baseDir,
    ruleSet: { forbidden: FLOOR_RULES },
    validate: true,
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  });
  if (typeof result.output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
  const violations: IViolation[] = result.output.summary.violations;
  return violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}
