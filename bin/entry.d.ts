export interface Entry {
  from: 'src' | 'dist';
  /** the main module to import */
  file: string;
  why: string;
}
/** The entry to run for the package in `root`; `force` is PINHOLE_FROM ('src' | 'dist'). */
export function chooseEntry(root: string, force?: string): Entry;
