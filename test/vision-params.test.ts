// The one place detection parameters are checked: resolveParams against a model.
import { describe, expect, it } from 'vitest';
import { PinholeError } from '../src/errors.ts';
import { DEFAULT_MAX_DET, resolveParams } from '../src/vision/params.ts';

const v2 = { kind: 'yolov2' as const, names: ['a', 'b', 'c'] };

describe('resolveParams', () => {
  it('fills what the caller left out from the model, then darknet\'s defaults', () => {
    expect(resolveParams(v2)).toEqual({ thresh: 0.25, nms: 0.45, hier: 0.5, maxDet: DEFAULT_MAX_DET, treeScores: 'top', agnostic: false, clip: false });
    expect(resolveParams({ kind: 'yolov1', names: ['a'] }).nms).toBe(0.4);
    const own = resolveParams({ kind: 'yolo9000', names: ['a'], nms: 0.3, hier: 0.1, thresh: 0.6 });
    expect([own.thresh, own.nms, own.hier]).toEqual([0.6, 0.3, 0.1]);
    const asked = resolveParams({ ...v2, nms: 0.3 }, { thresh: 0, nms: 1, maxDet: 2, classes: [2, 0, 2], agnostic: true, treeScores: 'classes' });
    expect(asked).toMatchObject({ thresh: 0, nms: 1, maxDet: 2, classes: [0, 2], agnostic: true, treeScores: 'classes' });
  });

  it('refuses each bad value with a 400 naming the parameter', () => {
    const cases: Array<[object, RegExp]> = [
      [{ thresh: 1.5 }, /thresh/], [{ thresh: Number.NaN }, /thresh/], [{ nms: -0.1 }, /nms/], [{ hier: '0.5' }, /hier/],
      [{ maxDet: 0 }, /max_det/], [{ maxDet: 2.5 }, /max_det/], [{ classes: [3] }, /class id 3 is out of range.*3 classes/],
      [{ classes: [-1] }, /classes/], [{ classes: '1' }, /classes/], [{ treeScores: 'all' }, /tree_scores/],
      [{ agnostic: 'yes' }, /agnostic/], [{ preNmsTopK: 0 }, /preNmsTopK/],
    ];
    for (const [p, re] of cases) {
      let err: unknown;
      try { resolveParams(v2, p as never); } catch (e) { err = e; }
      expect(err, JSON.stringify(p)).toBeInstanceOf(PinholeError);
      expect((err as PinholeError).code).toBe('bad_parameter');
      expect((err as PinholeError).message).toMatch(re);
    }
    expect(() => resolveParams(v2, null as never)).toThrow(/must be an object/);
  });
});
