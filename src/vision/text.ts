// Text -> token ids for the text-to-image models. Training (src/train/gan) and serving (src/runtime)
// both call encodeText with the vocabulary stored in model.json, so a caption is tokenised exactly the
// same way in both places; it lives on the floor both may import. Pure functions, no I/O.
import { PinholeError } from '../errors.ts';
import { PAD, UNK, type TextSpec } from '../manifest.ts';

export { PAD, UNK, type TextSpec } from '../manifest.ts';
export const PAD_ID = 0;
export const UNK_ID = 1;

export interface EncodedText {
  ids: Int32Array;
  /** words found in the vocabulary (within maxTokens) */
  known: number;
  /** words not in the vocabulary (mapped to UNK) */
  unknown: string[];
  /** words beyond maxTokens that were dropped */
  dropped: number;
}

/** Lower-cased words: runs of letters and digits; everything else separates. */
export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** PAD, UNK, then every word of `texts` in sorted order (so the ids do not depend on text order). */
export function buildVocabulary(texts: Iterable<string>): string[] {
  const seen = new Set<string>();
  for (const t of texts) for (const w of words(t)) seen.add(w);
  seen.delete(PAD);
  seen.delete(UNK);
  return [PAD, UNK, ...[...seen].sort()];
}

const indexCache = new WeakMap<string[], Map<string, number>>();

function indexOf(vocabulary: string[]): Map<string, number> {
  let m = indexCache.get(vocabulary);
  if (!m) {
    m = new Map(vocabulary.map((w, i) => [w, i]));
    indexCache.set(vocabulary, m);
  }
  return m;
}

/** Token ids of `text`, padded/cut to maxTokens. Does not validate: see checkText for requests. */
export function encodeText(text: string, spec: Pick<TextSpec, 'vocabulary' | 'maxTokens'>): EncodedText {
  const index = indexOf(spec.vocabulary);
  const ws = words(text);
  const ids = new Int32Array(spec.maxTokens).fill(PAD_ID);
  const unknown: string[] = [];
  let known = 0;
  const n = Math.min(ws.length, spec.maxTokens);
  for (let i = 0; i < n; i++) {
    const id = index.get(ws[i]);
    if (id === undefined || id === PAD_ID) {
      ids[i] = UNK_ID;
      unknown.push(ws[i]);
    } else {
      ids[i] = id;
      known++;
    }
  }
  return { ids, known, unknown, dropped: Math.max(0, ws.length - spec.maxTokens) };
}

/**
 * Validates a request text and encodes it; bad texts are PinholeError 400s that say why (empty, too
 * long, or no word the model knows).
 */
export function checkText(text: unknown, spec: TextSpec): EncodedText {
  if (typeof text !== 'string') throw new PinholeError('bad_parameter', 'text must be a string');
  if (text.trim().length === 0) throw new PinholeError('bad_parameter', 'text is empty');
  if (text.length > spec.maxChars) {
    throw new PinholeError('bad_parameter', `text is ${text.length} characters long; this model accepts at most ${spec.maxChars}`);
  }
  const enc = encodeText(text, spec);
  if (words(text).length === 0) throw new PinholeError('bad_parameter', 'text has no words');
  if (enc.known === 0) {
    const sample = spec.vocabulary.slice(2, 14).join(', ');
    throw new PinholeError('bad_parameter', `none of the words in the text are known to this model (it knows e.g. ${sample})`);
  }
  return enc;
}
