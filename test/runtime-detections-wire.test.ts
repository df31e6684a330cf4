// Detections travel from the inference worker packed into typed arrays (src/runtime/detections-wire.ts):
// what arrives must be what the worker decoded, value for value and in the same key order (the stream
// route's JSON and the CLI's print objects as they are).
import { describe, expect, it } from 'vitest';
import { packDetections, unpackDetections } from '../src/runtime/detections-wire.ts';
import type { Detection } from '../src/vision/types.ts';

const names = ['person', 'dog', 'horse', 'car'];

function det(cls: number, score: number, x1: number, y1: number, x2: number, y2: number, path?: string[]): Detection {
  const d: Detection = { class_id: cls, class: names[cls], score, box: { x1, y1, x2, y2 } };
  if (path) d.path = path;
  return d;
}

/** postMessage's structured clone, as the worker's reply goes through it */
const overTheWire = <T>(v: T): T => structuredClone(v);

describe('packed detections', () => {
  it('arrive as decoded: every value exact, key order kept, images of a batch apart, empty ones too', () => {
    const batch = [
      [det(2, Math.fround(0.9266191124916077), 492.53445053100586, -323.48966789245605, 689.5778846740723, 625.613862991333),
        det(1, Math.fround(0.25000001), 1e-300, Number.MAX_VALUE, -0, 7)],
      [],
      [det(0, Math.fround(0.5), 0, 0, 768, 576)],
    ];
    const back = unpackDetections(overTheWire(packDetections(batch)), names);
    expect(back).toEqual(batch);
    expect(JSON.stringify(back)).toBe(JSON.stringify(batch));
    expect(Object.is(back[0][1].box.x2, -0)).toBe(true);
    expect(back.map((d) => d.length)).toEqual([2, 0, 1]);
  });

  it('carry YOLO9000 paths, only on the detections that have one', () => {
    const batch = [[det(3, 0.75, 1, 2, 3, 4, ['physical object', 'vehicle', 'car']), det(1, 0.5, 5, 6, 7, 8)], [det(0, 0.4, 0, 1, 2, 3, ['person'])]];
    const back = unpackDetections(overTheWire(packDetections(batch)), names);
    expect(back).toEqual(batch);
    expect('path' in back[0][1]).toBe(false);
    expect(JSON.stringify(back)).toBe(JSON.stringify(batch));
  });

  it('hold numbers, not objects: a batch without detections is three empty arrays', () => {
    const p = packDetections([[], []]);
    expect(p.counts).toEqual(new Int32Array([0, 0]));
    expect(p.classIds.length + p.numbers.length).toBe(0);
    expect(p.paths).toBeUndefined();
    expect(unpackDetections(p, names)).toEqual([[], []]);
  });
});
