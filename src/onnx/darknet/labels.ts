// Class names (darknet .names: one per line) and WordTree files (darknet 9k.tree: `label parent_index`
// per line, -1 for roots), checked against the class count of the cfg's final layer.
import { readFileSync } from 'node:fs';
import type { WordTreeSpec } from '../../manifest.ts';
import { DarknetError, ioError } from './errors.ts';

function readLines(path: string, what: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw ioError(`read ${what}`, path, e);
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function readNames(path: string, classes: number): string[] {
  const names = readLines(path, 'names file');
  const blank = names.findIndex((n) => n.trim() === '');
  if (blank >= 0) throw new DarknetError(`${path}:${blank + 1}: empty class name`);
  if (names.length !== classes) {
    throw new DarknetError(`${path}: ${names.length} names, but the cfg's final layer has ${classes} classes`);
  }
  return names;
}

export function genericNames(classes: number): string[] {
  return Array.from({ length: classes }, (_, i) => `class_${i}`);
}

/** Parses a 9k.tree-format file into parents + labels (as darknet's read_tree reads it). */
export function parseTree(text: string, file: string, classes: number): Required<WordTreeSpec> {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const parents: number[] = [];
  const labels: string[] = [];
  lines.forEach((line, i) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2 || !/^-?\d+$/.test(parts[1])) {
      throw new DarknetError(`${file}:${i + 1}: expected "label parent_index", got "${line}"`);
    }
    const p = Number(parts[1]);
    // every parent precedes its children: the tree softmax and the path products rely on that order.
    if (p < -1 || p >= i) throw new DarknetError(`${file}:${i + 1}: parent ${p} of node ${i} must be -1 or an earlier node`);
    parents.push(p);
    labels.push(parts[0]);
  });
  if (parents.length !== classes) {
    throw new DarknetError(`${file}: ${parents.length} tree nodes, but the cfg's [region] has ${classes} classes`);
  }
  return { parents, labels };
}

export function readTree(path: string, classes: number): Required<WordTreeSpec> {
  return parseTree(readLines(path, 'tree file').join('\n'), path, classes);
}
