// Small DOM helpers: typed lookups that fail loudly when index.html and the code disagree.
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`console: no element #${id}`);
  return el as T;
}

export function num(input: HTMLInputElement): number | undefined {
  return input.value.trim() === '' ? undefined : Number(input.value);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}
