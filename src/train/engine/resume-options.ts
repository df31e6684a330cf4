// Which options a resumed run uses: the checkpoint's for the keys that shape the network (its weights
// only fit that architecture), this process's for where to write and how long to run, and for every
// other option the one typed on the command line, else what the run had. Old checkpoints are brought
// up to date by the trainer's one migration function before this sees them.

export interface ResumeKeys<T> {
  /** shape the network or its classes: always the checkpoint's */
  arch: readonly (keyof T)[];
  /** this process only (output folder, time box, logging): never the checkpoint's */
  session: readonly (keyof T)[];
  /** how a value the run did not set reads in a log line (e.g. sizes: 'the default sizes') */
  unset?: Partial<Record<keyof T, string>>;
  /** the flag of a key whose name differs from flagName(key) (e.g. zDim: '--z') */
  flags?: Partial<Record<keyof T, string>>;
}

/** `--cls-pick` for `clsPick`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
}

const show = (v: unknown, unset = 'no value'): string => (v === undefined ? unset : Array.isArray(v) ? v.join(',') : String(v));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The options of a resumed run. `cli` holds this command line's values (defaults included), `given`
 * the keys typed on it, `recorded` the (migrated) options saved with the checkpoint. Every typed option
 * that changes the run, or is ignored because the architecture is the checkpoint's, gets a log line.
 */
export function resumedOptions<T extends object>(
  cli: T, given: Iterable<string>, recorded: Partial<T>, keys: ResumeKeys<T>, log: (line: string) => void,
): T {
  const typed = new Set(given);
  const out = { ...cli };
  const names = new Set([...Object.keys(cli), ...Object.keys(recorded)] as (keyof T & string)[]);
  for (const k of names) {
    if (keys.session.includes(k)) continue;
    const had = recorded[k];
    const unset = keys.unset?.[k];
    const flag = keys.flags?.[k] ?? flagName(k);
    if (keys.arch.includes(k)) {
      if (typed.has(k) && !same(cli[k], had)) {
        log(`${flag} ${show(cli[k])} ignored: a resumed run keeps its architecture (${flag} ${show(had, unset)})`);
      }
      out[k] = had as T[typeof k];
    } else if (typed.has(k)) {
      if (!same(cli[k], had)) log(`${flag} ${show(cli[k])} (the run had ${show(had, unset)})`);
    } else if (Object.hasOwn(recorded, k)) {
      out[k] = had as T[typeof k];
    }
  }
  return out;
}

/**
 * resumedOptions for options that hold a nested `config` (the GAN trainers): the same rule at both
 * levels, with one list of typed keys (the two levels' key names do not overlap).
 */
export function resumedWithConfig<C extends object, T extends { config: C }>(
  cli: T, given: Iterable<string>, recorded: Partial<T>, keys: ResumeKeys<T>, configKeys: ResumeKeys<C>, log: (line: string) => void,
): T {
  const typed = [...given];
  const top = resumedOptions(cli, typed, recorded, { ...keys, session: [...keys.session, 'config'] }, log);
  return { ...top, config: resumedOptions(cli.config, typed, (recorded.config ?? {}) as Partial<C>, configKeys, log) };
}
