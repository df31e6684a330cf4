// Loaders on small fixtures written here: generated scenes saved as Pascal VOC, COCO and YOLO
// folders, read back through openDataset, compared with the scenes they came from.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSpecError, openDataset, parseDataSpec, parseVocXml, parseYoloLabels, synthScene, VOC_NAMES, type Scene } from '../src/train/data/index.ts';
import { openClassification } from '../src/train/data/open.ts';

const W = 96;
const H = 80; // not square: catches swapped axes
let root: string;
let scenes: Scene[];
// the class names used by the fixtures, sorted (what VOC and YOLO-without-names give back)
let names: string[];

async function png(s: Scene): Promise<Buffer> {
  return sharp(Buffer.from(s.rgb), { raw: { width: s.width, height: s.height, channels: 3 } }).png().toBuffer();
}

function vocXml(file: string, s: Scene, difficultIndex = -1, extra = ''): string {
  const objs = s.objects
    .map((o, k) => `  <object>\n    <name>${o.name}</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n    <difficult>${k === difficultIndex ? 1 : 0}</difficult>\n` +
      `    <bndbox>\n      <xmin>${o.box.x1 + 1}</xmin>\n      <ymin>${o.box.y1 + 1}</ymin>\n      <xmax>${o.box.x2}</xmax>\n      <ymax>${o.box.y2}</ymax>\n    </bndbox>\n  </object>`)
    .join('\n');
  return `<?xml version="1.0"?>\n<annotation>\n  <folder>VOC2007</folder>\n  <filename>${file}</filename>\n  <size><width>${s.width}</width><height>${s.height}</height><depth>3</depth></size>\n${objs}\n${extra}</annotation>\n`;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pinhole-data-'));
  scenes = [0, 1, 2, 3].map((i) => synthScene(77, i, { width: W, height: H, minObjects: 2, maxObjects: 4 }));
  names = [...new Set(scenes.flatMap((s) => s.objects.map((o) => o.name)))].sort();

  // Pascal VOC (object 0 of scene 1 difficult); splits train = 0,1 and test = 2,3
  const voc = join(root, 'voc');
  await mkdir(join(voc, 'Annotations'), { recursive: true });
  await mkdir(join(voc, 'JPEGImages'), { recursive: true });
  await mkdir(join(voc, 'ImageSets', 'Main'), { recursive: true });
  for (const [i, s] of scenes.entries()) {
    const id = `00000${i}`;
    await writeFile(join(voc, 'JPEGImages', `${id}.png`), await png(s));
    await writeFile(join(voc, 'Annotations', `${id}.xml`), vocXml(`${id}.png`, s, i === 1 ? 0 : -1));
  }
  await writeFile(join(voc, 'ImageSets', 'Main', 'train.txt'), '000000\n000001\n');
  await writeFile(join(voc, 'ImageSets', 'Main', 'test.txt'), '000002\n000003\n');

  // a VOC folder with VOC's own class names, to check darknet's class order is used
  const voc20 = join(root, 'voc20');
  await mkdir(join(voc20, 'Annotations'), { recursive: true });
  await mkdir(join(voc20, 'JPEGImages'), { recursive: true });
  await writeFile(join(voc20, 'JPEGImages', 'a.jpg'), await sharp(await png(scenes[0])).jpeg().toBuffer());
  await writeFile(join(voc20, 'Annotations', 'a.xml'),
    '<annotation><filename>a.jpg</filename><object><name>dog</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>' +
    '<object><name>person</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>');

  // COCO: sparse category ids listed out of order; one crowd annotation; an image without objects
  const coco = join(root, 'coco');
  await mkdir(join(coco, 'images'), { recursive: true });
  const catId = (n: string) => 100 - 7 * names.indexOf(n); // decreasing with the name order
  const images = scenes.map((s, i) => ({ id: 1000 + i, file_name: `img${i}.png`, width: s.width, height: s.height }));
  const annotations = scenes.flatMap((s, i) => s.objects.map((o, k) => ({
    id: i * 10 + k, image_id: 1000 + i, category_id: catId(o.name), iscrowd: i === 2 && k === 0 ? 1 : 0,
    bbox: [o.box.x1, o.box.y1, o.box.x2 - o.box.x1, o.box.y2 - o.box.y1], area: 1,
  })));
  for (const [i, s] of scenes.entries()) await writeFile(join(coco, 'images', `img${i}.png`), await png(s));
  const blank = synthScene(1, 1, { width: W, height: H, plain: true, maxObjects: 1 });
  await writeFile(join(coco, 'images', 'blank.png'), await png(blank));
  images.push({ id: 2000, file_name: 'blank.png', width: W, height: H });
  await writeFile(join(coco, 'instances_val.json'), JSON.stringify({
    images, annotations, categories: [...names].reverse().map((n) => ({ id: catId(n), name: n, supercategory: 'shape' })),
  }));

  // YOLO (Ultralytics): images/{train,val} + labels/{train,val} + data.yaml with a names map
  const yolo = join(root, 'yolo');
  for (const split of ['train', 'val']) {
    await mkdir(join(yolo, 'images', split), { recursive: true });
    await mkdir(join(yolo, 'labels', split), { recursive: true });
  }
  for (const [i, s] of scenes.entries()) {
    const split = i < 3 ? 'train' : 'val';
    await writeFile(join(yolo, 'images', split, `s${i}.png`), await png(s));
    const lines = s.objects.map((o) => {
      const { x1, y1, x2, y2 } = o.box;
      return `${names.indexOf(o.name)} ${(x1 + x2) / 2 / W} ${(y1 + y2) / 2 / H} ${(x2 - x1) / W} ${(y2 - y1) / H}`;
    });
    await writeFile(join(yolo, 'labels', split, `s${i}.txt`), lines.join('\n') + '\n');
  }
  await writeFile(join(yolo, 'data.yaml'), `path: .\ntrain: images/train\nval: images/val\nnames:\n${names.map((n, i) => `  ${i}: ${n}`).join('\n')}\n`);

  // darknet-style YOLO: labels beside JPEG images, classes.txt, one segment-format line, one image unlabelled
  const dk = join(root, 'darknet');
  await mkdir(dk, { recursive: true });
  await writeFile(join(dk, 'classes.txt'), 'circle\nsquare\n');
  await writeFile(join(dk, 'a.jpg'), await sharp(await png(scenes[0])).jpeg({ quality: 95 }).toBuffer());
  await writeFile(join(dk, 'a.txt'), '1 0.5 0.5 0.25 0.5\n0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.4\n');
  await writeFile(join(dk, 'b.jpg'), await sharp(await png(scenes[1])).jpeg().toBuffer());

  // broken fixtures
  const bad = join(root, 'badvoc');
  await mkdir(join(bad, 'Annotations'), { recursive: true });
  await mkdir(join(bad, 'JPEGImages'), { recursive: true });
  await writeFile(join(bad, 'Annotations', 'x.xml'), '<annotation><object><name>dog</name><bndbox><xmin>1</xmin></bndbox></object></annotation>');
  const badyolo = join(root, 'badyolo');
  await mkdir(badyolo, { recursive: true });
  await writeFile(join(badyolo, 'classes.txt'), 'a\n');
  await writeFile(join(badyolo, 'x.png'), await png(scenes[0]));
  await writeFile(join(badyolo, 'x.txt'), '0 0.5 0.5 0.1 0.1\n3 0.5 0.5 0.1 0.1\n');
  await mkdir(join(root, 'empty'), { recursive: true });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const boxesOf = (s: Scene) => s.objects.map((o) => [names.indexOf(o.name), o.box.x1, o.box.y1, o.box.x2, o.box.y2]);

describe('Pascal VOC', () => {
  it('reads boxes (1-based inclusive corners -> continuous), difficult flags and pixels', async () => {
    const d = await openDataset(`voc:${join(root, 'voc')}`);
    expect(d.names).toEqual(names);
    expect(d.size).toBe(4);
    for (const [i, s] of scenes.entries()) {
      const got = await d.get(i);
      expect(got.id).toBe(`00000${i}`);
      expect([got.width, got.height]).toEqual([W, H]);
      expect(Buffer.from(got.rgb).equals(Buffer.from(s.rgb))).toBe(true);
      expect(got.boxes.map((b) => [b.classId, b.x1, b.y1, b.x2, b.y2])).toEqual(boxesOf(s));
      expect(got.boxes.map((b) => !!b.difficult)).toEqual(s.objects.map((_, k) => i === 1 && k === 0));
    }
    expect(Buffer.from(await d.file!(2)).equals(await png(scenes[2]))).toBe(true);
  });

  it('splits from ImageSets/Main and auto-detection of the folder', async () => {
    const test = await openDataset(`voc:${join(root, 'voc')}:test`);
    expect(test.size).toBe(2);
    expect((await test.get(0)).id).toBe('000002');
    const byOpt = await openDataset(join(root, 'voc'), { split: 'train' });
    expect(byOpt.size).toBe(2);
    await expect(openDataset(`voc:${join(root, 'voc')}:nosuch`)).rejects.toThrow(/split "nosuch" not found/);
  });

  it('uses darknet\'s VOC class order when the names are VOC\'s, and honours given names', async () => {
    const d = await openDataset(join(root, 'voc20'));
    expect(d.names).toEqual(VOC_NAMES);
    const s = await d.get(0);
    expect(s.boxes.map((b) => d.names[b.classId])).toEqual(['dog', 'person']);
    expect(s.boxes[0]).toEqual({ classId: VOC_NAMES.indexOf('dog'), x1: 0, y1: 1, x2: 30, y2: 40 });
    const only = await openDataset(`voc:${join(root, 'voc20')}`, { names: ['person'] });
    expect((await only.get(0)).boxes).toEqual([{ classId: 0, x1: 9, y1: 9, x2: 20, y2: 20 }]);
  });

  it('parses the XML subset and names broken files', async () => {
    const a = parseVocXml('<annotation><filename>f.jpg</filename><size><width>5</width><height>6</height></size><object><name> cat </name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>');
    expect(a).toEqual({ filename: 'f.jpg', width: 5, height: 6, objects: [{ name: 'cat', difficult: true, xmin: 1, ymin: 2, xmax: 3, ymax: 4 }] });
    expect(parseVocXml('<annotation><filename>f.jpg</filename></annotation>').objects).toEqual([]);
    expect(() => parseVocXml('<annotation><object><name>x</name></annotation>')).toThrow(/XML/);
    expect(() => parseVocXml('<foo/>')).toThrow(/annotation/);
    await expect(openDataset(join(root, 'badvoc'))).rejects.toThrow(/x\.xml.*ymin/);
  });
});

describe('COCO', () => {
  it('remaps sparse category ids to contiguous indices in id order; crowd boxes are ignored ones', async () => {
    const d = await openDataset(`coco:${join(root, 'coco', 'instances_val.json')}:${join(root, 'coco', 'images')}`);
    // ids decrease with the name order, so id order is the reversed names
    expect(d.names).toEqual([...names].reverse());
    expect(d.size).toBe(5);
    for (const [i, s] of scenes.entries()) {
      const got = await d.get(i);
      expect(got.id).toBe(String(1000 + i));
      expect(Buffer.from(got.rgb).equals(Buffer.from(s.rgb))).toBe(true);
      expect(got.boxes.map((b) => [d.names[b.classId], b.x1, b.y1, b.x2, b.y2])).toEqual(s.objects.map((o) => [o.name, o.box.x1, o.box.y1, o.box.x2, o.box.y2]));
      expect(got.boxes.map((b) => !!b.difficult)).toEqual(s.objects.map((_, k) => i === 2 && k === 0));
    }
    expect((await d.get(4)).boxes).toEqual([]);
  });

  it('finds the images itself from a JSON path or a folder', async () => {
    const a = await openDataset(join(root, 'coco', 'instances_val.json'));
    const b = await openDataset(join(root, 'coco'));
    const c = await openDataset(`coco:${join(root, 'coco', 'instances_val.json')}`);
    for (const d of [a, b, c]) expect((await d.get(1)).boxes.length).toBe(scenes[1].objects.length);
  });

  it('reports broken JSON clearly', async () => {
    const f = join(root, 'coco', 'broken.json');
    await writeFile(f, '{"images": [{"id": 1, "file_name": "img0.png"}], "annotations": [{"image_id": 1, "category_id": 9, "bbox": [0,0,1,1]}], "categories": [{"id": 1, "name": "a"}]}');
    await expect(openDataset(`coco:${f}:${join(root, 'coco', 'images')}`)).rejects.toThrow(/unknown category_id 9/);
    await writeFile(f, '{"images": [');
    await expect(openDataset(`coco:${f}`)).rejects.toThrow(/not valid JSON/);
    await expect(openDataset(`coco:${join(root, 'nope.json')}`)).rejects.toThrow(/not found/);
  });
});

describe('YOLO txt', () => {
  it('reads normalised cx cy w h back to pixel boxes; names from data.yaml; splits', async () => {
    const d = await openDataset(`yolo:${join(root, 'yolo')}`);
    expect(d.names).toEqual(names);
    expect(d.size).toBe(4);
    // images are listed in path order: images/train/s0..s2, images/val/s3
    for (const [i, s] of scenes.entries()) {
      const got = await d.get(i);
      expect(Buffer.from(got.rgb).equals(Buffer.from(s.rgb))).toBe(true);
      const want = boxesOf(s);
      expect(got.boxes.length).toBe(want.length);
      got.boxes.forEach((b, k) => {
        expect(b.classId).toBe(want[k][0]);
        [b.x1, b.y1, b.x2, b.y2].forEach((v, j) => expect(v).toBeCloseTo(want[k][j + 1] as number, 9));
      });
    }
    const val = await openDataset(`yolo:${join(root, 'yolo')}:val`);
    expect(val.size).toBe(1);
    expect((await val.get(0)).boxes.length).toBe(scenes[3].objects.length);
    expect((await openDataset(join(root, 'yolo'), { split: 'train' })).size).toBe(3);
  });

  it('darknet layout: labels beside images, classes.txt, segments, unlabelled images', async () => {
    const d = await openDataset(join(root, 'darknet'));
    expect(d.names).toEqual(['circle', 'square']);
    expect(d.size).toBe(2);
    const a = await d.get(0);
    expect([a.width, a.height]).toEqual([W, H]);
    expect(a.boxes[0]).toEqual({ classId: 1, x1: 0.375 * W, y1: 0.25 * H, x2: 0.625 * W, y2: 0.75 * H });
    // segment (0.1,0.2) (0.3,0.2) (0.3,0.4) (0.1,0.4) -> its extent
    const s = a.boxes[1];
    expect(s.classId).toBe(0);
    [s.x1, s.y1, s.x2, s.y2].forEach((v, j) => expect(v).toBeCloseTo([0.1 * W, 0.2 * H, 0.3 * W, 0.4 * H][j], 9));
    expect((await d.get(1)).boxes).toEqual([]);
  });

  it('label errors name the file and line', async () => {
    expect(() => parseYoloLabels('0 0.5 0.5 0.1\n', 1, 'f.txt')).toThrow(/f\.txt:1/);
    expect(() => parseYoloLabels('0 0.5 0.5 0.1 0.1\nx 1 1 1 1\n', 1, 'f.txt')).toThrow(/f\.txt:2: not a number/);
    const d = await openDataset(join(root, 'badyolo'));
    await expect(d.get(0)).rejects.toThrow(/x\.txt:2: class 3 outside \[0, 1\)/);
  });
});

describe('dataset specs', () => {
  it('parses every form', () => {
    expect(parseDataSpec('synth:7:100')).toEqual({ kind: 'synth', seed: 7, count: 100 });
    expect(parseDataSpec('synth9k:0:5:160')).toEqual({ kind: 'synth9k', seed: 0, count: 5, width: 160, height: 160 });
    expect(parseDataSpec('synth:1:2:320x240')).toEqual({ kind: 'synth', seed: 1, count: 2, width: 320, height: 240 });
    expect(parseDataSpec('coco:/a/b.json:/a/img')).toEqual({ kind: 'coco', json: '/a/b.json', imageDir: '/a/img' });
    expect(parseDataSpec('voc:/d')).toEqual({ kind: 'voc', dir: '/d' });
    expect(parseDataSpec('/some/dir')).toEqual({ kind: 'path', path: '/some/dir' });
  });

  it('bad specs are DataSpecErrors with a clear message', async () => {
    const cases: [string, RegExp][] = [
      ['', /empty dataset spec/],
      ['foo:bar', /unknown dataset kind "foo"/],
      ['synth:x:10', /SEED must be an integer/],
      ['synth:1', /expected synth:SEED:COUNT/],
      ['synth:1:0', /COUNT must be an integer >= 1/],
      ['synth:1:5:10', /image size must be in \[32, 4096\]/],
      ['synth:1:5:abc', /image size must be SIZE or WxH/],
      ['synthcls:1:5', /classification set/],
      [join(tmpdir(), 'pinhole-no-such-dataset'), /dataset not found/],
    ];
    for (const [spec, re] of cases) {
      const e = await openDataset(spec).then(() => undefined, (err: unknown) => err);
      expect(e, spec).toBeInstanceOf(DataSpecError);
      expect((e as Error).message, spec).toMatch(re);
    }
    await expect(openDataset(`voc:${join(root, 'empty')}`)).rejects.toThrow(/not a Pascal VOC folder/);
    await expect(openDataset(join(root, 'empty'))).rejects.toThrow(/cannot tell the dataset format/);
    await expect(openDataset(`yolo:${join(root, 'empty')}`)).rejects.toThrow(/no class names/);
    await expect(openClassification('voc:/x')).rejects.toThrow(/not a classification set/);
  });
});
