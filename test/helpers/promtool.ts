// Prometheus' own linter on an exposition text. Debian's `prometheus` package ships promtool and .ci/run
// installs it; where it is absent, promtoolPath is undefined and the callers skip with that reason.
import { spawnSync } from 'node:child_process';

function find(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : undefined;
}

export const promtoolPath = find();
export const NO_PROMTOOL = 'promtool not installed (apt-get install prometheus; .ci/run does)';

/** `promtool check metrics` with the text on stdin: its exit code and everything it printed. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  if (!promtoolPath) throw new Error(NO_PROMTOOL);
  const r = spawnSync(promtoolPath, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
