/** Bad command-line usage detected after parsing (exit code 2, like commander's own usage errors). */
export class UsageError extends Error {}

/** Parses a number option or throws a UsageError naming the option. */
export function numberOption(name: string, lo = -Infinity, hi = Infinity) {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < lo || v > hi) {
      throw new UsageError(`${name} must be a number in [${lo}, ${hi}], got "${raw}"`);
    }
    return v;
  };
}

export function intOption(name: string, lo = -Infinity, hi = Infinity) {
  return (raw: string): number => {
    const v = numberOption(name, lo, hi)(raw);
    if (!Number.isInteger(v)) throw new UsageError(`${name} must be an integer, got "${raw}"`);
    return v;
  };
}
