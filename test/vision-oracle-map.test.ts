// YOLO9000 per-class scoring (pinhole eval's default for tree models, `tree_scores=classes`) against the
// LIVE darknet: its get_region_detections with a class map (the `detector valid` path the YOLO9000 paper's
// detection mAP came from) on seeded random yolo9000 weights, the same network input, then do_nms_sort.
// Our postprocess() on darknet's raw logits must give the same boxes: same count, node, IoU >= 0.99,
// |score diff| <= 1e-3.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildWordTree, parseTreeText, postprocess } from '../src/vision/index.ts';
import { darknetCfg, darknetData, runDarknetMap, runOracle } from './helpers/oracle.ts';
import { darknetDetections, dogPng, matchDarknet } from './helpers/oracle-match.ts';

const SIZE = 544;

describe('YOLO9000 classes scoring == darknet with a class map (live oracle)', () => {
  it('leaves and inner nodes across the tree, thresh .05', async () => {
    const spec = parseTreeText(readFileSync(darknetData('9k.tree'), 'utf8'));
    const tree = buildWordTree(spec);
    // the four roots, every child of the first root, and a spread of deeper nodes (leaves among them)
    const nodes = [...new Set([
      ...Array.from({ length: tree.n }, (_, j) => j).filter((j) => tree.parent[j] < 1),
      ...Array.from({ length: 40 }, (_, k) => 97 + k * 233),
    ])].filter((j) => j < tree.n).slice(0, 200);
    expect(nodes.some((j) => tree.child[j] < 0)).toBe(true);
    const thresh = 0.05, nms = 0.45;
    const r = await runOracle({ cfg: darknetCfg('yolo9000'), seed: 1, image: await dogPng(SIZE), thresh: 0.85, hier: 0.5, nms });
    const dkBoxes = await runDarknetMap(r, nodes, thresh, nms);
    const L = r.json.last_layer;
    const names = readFileSync(darknetData('9k.names'), 'utf8').split('\n').filter((s) => s.length > 0);
    const model = {
      input: { width: SIZE, height: SIZE }, preprocess: 'letterbox' as const, names,
      num: L.n, anchors: L.anchors!, coords: L.coords, softmax: true, tree: spec,
    };
    const im = { width: SIZE, height: SIZE };
    const [mine] = postprocess('yolo9000', model, r.pre, [1, L.n * (L.coords + 1 + L.classes), L.h, L.w], [im], {
      thresh, nms, maxDet: 100000, treeScores: 'classes', classes: nodes,
    });
    const dk = darknetDetections({ ...r.json, boxes: dkBoxes }, im);
    expect(dk.length).toBeGreaterThan(20);
    expect(new Set(dk.map((d) => d.class_id)).size).toBeGreaterThan(5);
    const { unmatched, worstIou, worstScore } = matchDarknet(dk, mine);
    expect(unmatched).toEqual([]);
    expect(mine).toHaveLength(dk.length);
    expect(worstIou).toBeGreaterThanOrEqual(0.99);
    expect(worstScore).toBeLessThanOrEqual(1e-3);
  }, 300_000);
});
