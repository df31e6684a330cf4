// Bad input to the darknet importer: malformed cfgs, wrong-sized weights, unsupported layers, bad names
// and tree files. Each must give one clear error (file, line, section where it applies), never a crash,
// and never leave a model folder (or its temporary) behind. Also the `pinhole darknet` CLI's exit codes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest.ts';
import { paramLayout, parseCfg, type Layer } from '../src/onnx/darknet/cfg.ts';
import { DarknetError } from '../src/onnx/darknet/errors.ts';
import { importDarknet } from '../src/onnx/darknet/folder.ts';
import { darknetToOnnx } from '../src/onnx/darknet/import.ts';
import { parseWeights, readWeights, weightFloats } from '../src/onnx/darknet/weights.ts';
import { writeRandomWeights } from './helpers/oracle.ts';

const work = mkdtempSync(join(tmpdir(), 'pinhole-darknet-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NET = '[net]\nwidth=16\nheight=16\nchannels=3\n\n';
const CONV = '[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n';
const POOL = '[maxpool]\nsize=2\nstride=2\n\n';
const HEAD = '[convolutional]\nfilters=16\nsize=1\nactivation=linear\n\n[region]\nanchors=1,1, 2,2\nclasses=3\nnum=2\n';
const GOOD = NET + CONV + POOL + HEAD;

const fanIn = (l: Layer): number =>
  l.type === 'convolutional' ? (l.input.c / l.groups) * l.size * l.size : l.type === 'connected' ? l.inputs : 1;

function write(name: string, text: string): string {
  const p = join(work, name);
  writeFileSync(p, text);
  return p;
}

function weightsFor(name: string, cfgText: string, version: [number, number, number] = [0, 2, 0]): string {
  const net = parseCfg(cfgText, name);
  const p = join(work, name);
  writeRandomWeights(p, net.layers.map((l) => paramLayout(l).map((q) => ({ ...q, fanIn: fanIn(l) }))), { version, seed: 4 });
  return p;
}

/** the line number (1-based) of the n-th occurrence of `needle` in `text` */
const lineOf = (text: string, needle: string, nth = 1): number => {
  let at = -1;
  for (let k = 0; k < nth; k++) at = text.indexOf(needle, at + 1);
  return text.slice(0, at).split('\n').length;
};

const cfgError = (text: string): string => {
  try {
    parseCfg(text, 'bad.cfg');
  } catch (e) {
    expect(e).toBeInstanceOf(DarknetError);
    return (e as Error).message;
  }
  throw new Error('parseCfg accepted a bad cfg');
};

describe('cfg errors name file, line and section', () => {
  it('unknown section and unsupported darknet layers', () => {
    const t1 = NET + CONV + '[foo]\nx=1\n\n' + HEAD;
    expect(cfgError(t1)).toBe(`bad.cfg:${lineOf(t1, '[foo]')}: unknown section [foo] (layer 1)`);
    for (const type of ['shortcut', 'yolo', 'upsample', 'lstm']) {
      const t = NET + CONV + `[${type}]\nfrom=-1\n\n` + HEAD;
      expect(cfgError(t)).toBe(`bad.cfg:${lineOf(t, `[${type}]`)}: unsupported layer type [${type}] (layer 1)`);
    }
    expect(cfgError(CONV + HEAD)).toMatch(/^bad\.cfg:1: the first section must be \[net\], found \[convolutional\]$/);
    expect(cfgError(NET + CONV + NET + HEAD)).toBe('bad.cfg:13: a second [net] section; [net] comes once, first');
  });

  it('bad numbers and values', () => {
    const t = NET + CONV.replace('filters=8', 'filters=abc') + POOL + HEAD;
    expect(cfgError(t)).toBe(`bad.cfg:${lineOf(t, 'filters=abc')}: [convolutional] (layer 0) filters=abc is not an integer`);
    const t2 = NET + CONV + POOL.replace('stride=2', 'stride=2.5') + HEAD;
    expect(cfgError(t2)).toBe(`bad.cfg:${lineOf(t2, 'stride=2.5')}: [maxpool] (layer 1) stride=2.5 is not an integer`);
    const t3 = NET + CONV + POOL + HEAD.replace('anchors=1,1, 2,2', 'anchors=1,1,2,x');
    expect(cfgError(t3)).toMatch(new RegExp(`^bad\\.cfg:${lineOf(t3, 'anchors=')}: \\[region\\] \\(layer 3\\) anchors: "x" in "1,1,2,x" is not a number$`));
    const t4 = NET + CONV + POOL + HEAD.replace('anchors=1,1, 2,2', 'anchors=1,1,2');
    expect(cfgError(t4)).toMatch(/\[region\] \(layer 3\) anchors has 3 values, num=2 needs 4$/);
    expect(cfgError(NET + CONV.replace('filters=8', 'filters=0') + HEAD)).toMatch(/^bad\.cfg:7: \[convolutional\] \(layer 0\) filters=0 must be >= 1$/);
    expect(cfgError(NET.replace('width=16\n', '') + CONV + HEAD)).toMatch(/^bad\.cfg:1: \[net\] needs positive width, height and channels \(got 0x16x3\)$/);
    expect(cfgError(NET + CONV.replace('activation=leaky', 'activation=swish') + HEAD)).toMatch(/^bad\.cfg:11: \[convolutional\] \(layer 0\) activation=swish is not supported/);
    expect(cfgError(NET + CONV.replace('activation=leaky', 'activation=stair') + HEAD)).toMatch(/activation=stair is not supported/);
    expect(cfgError(NET + 'filters\n' + CONV + HEAD)).toBe('bad.cfg:6: expected key=value, got "filters"');
    expect(cfgError('width=3\n' + NET)).toBe('bad.cfg:1: option "width=3" before the first [section]');
    expect(cfgError(NET + CONV.replace('size=3', 'size=40').replace('pad=1', 'pad=0') + HEAD)).toMatch(/\[convolutional\] \(layer 0\) convolution window is larger than its \(padded\) input/);
    expect(cfgError(NET + CONV + '[convolutional]\nbinary=1\nfilters=4\n\n' + HEAD)).toMatch(/^bad\.cfg:14: \[convolutional\] \(layer 1\) binary=1 is not supported$/);
    expect(cfgError(NET + CONV + '[reorg]\nstride=3\n\n' + HEAD)).toMatch(/\[reorg\] \(layer 1\) stride=3: input channels 8 are not divisible by 9/);
    expect(cfgError(NET + CONV + '[convolutional]\nfilters=8\nsize=1\nstride=2\n\n' + HEAD)).toMatch(/size=1 with stride=2.*not supported/);
    expect(cfgError(NET + CONV + '[convolutional]\nfilters=8\ngroups=3\n\n' + HEAD)).toMatch(/groups=3 must divide both the input channels \(8\) and filters \(8\)/);
    expect(cfgError(NET + CONV.replace('[convolutional]\n', '[convolutional]\ndontload=1\n') + HEAD)).toMatch(/dontload=1 is not supported/);
  });

  it('route out of range, forward references and shape mismatches at the head', () => {
    const t = NET + CONV + POOL + '[route]\nlayers=-9\n\n' + HEAD;
    expect(cfgError(t)).toBe(`bad.cfg:${lineOf(t, '[route]')}: [route] (layer 2) layers=-9: -9 refers to layer -7, outside the layers before it (0..1)`);
    expect(cfgError(NET + CONV + POOL + '[route]\nlayers=2\n\n' + HEAD)).toMatch(/layers=2: 2 refers to layer 2, outside the layers before it \(0\.\.1\)/);
    expect(cfgError(NET + CONV + POOL + '[route]\nlayers=-1,a\n\n' + HEAD)).toMatch(/\[route\] \(layer 2\) layers=-1,a: "a" is not an integer/);
    expect(cfgError(NET + CONV + POOL + '[route]\n\n' + HEAD)).toMatch(/\[route\] \(layer 2\) needs layers=/);
    expect(cfgError(NET + CONV + HEAD.replace('classes=3', 'classes=4'))).toMatch(
      /\[region\] \(layer 2\) expects num\*\(classes\+coords\+1\) = 2\*\(4\+4\+1\) = 18 input channels, the previous layer gives 16/);
    expect(cfgError(NET + POOL + '[connected]\noutput=100\n\n[detection]\nside=2\nnum=1\nclasses=3\ncoords=4\n')).toMatch(
      /\[detection\] \(layer 2\) expects side\*side\*\(\(1\+coords\)\*num\+classes\) = 2\*2\*\(\(1\+4\)\*1\+3\) = 32 inputs, the previous layer gives 100/);
  });

  it('a cfg not ending in [region]/[detection] is refused by the emitter', () => {
    const text = NET + CONV + POOL;
    const net = parseCfg(text, 'nohead.cfg');
    const w = weightsFor('nohead.weights', text);
    expect(() => darknetToOnnx(net, readWeights(w, net))).toThrow(/^nohead\.cfg:13: the last layer is \[maxpool\]; a detector must end in \[region\] or \[detection\]$/);
  });
});

describe('weights size is checked exactly', () => {
  const net = parseCfg(GOOD, 'good.cfg');
  const good = weightsFor('good.weights', GOOD);
  const bytes = readFileSync(good);
  const expected = 20 + 4 * weightFloats(net);

  it('accepts the exact size, v0.2 and v0.1 headers', () => {
    expect(bytes.length).toBe(expected);
    expect(readWeights(good, net).header).toMatchObject({ major: 0, minor: 2, bytes: 20, transposed: false });
    const v01 = weightsFor('good01.weights', GOOD, [0, 1, 0]);
    expect(statSync(v01).size).toBe(expected - 4);
    expect(readWeights(v01, net).header).toMatchObject({ major: 0, minor: 1, bytes: 16, transposed: false });
    const t = weightsFor('goodT.weights', GOOD, [0, 1001, 0]);
    expect(readWeights(t, net).header).toMatchObject({ bytes: 16, transposed: true });
  });

  it('truncated, oversized, tiny and missing files', () => {
    const cut = write('cut.weights', '');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
    expect(() => readWeights(cut, net)).toThrow(
      `${cut}: expected ${expected} bytes (20-byte v0.2 header + ${weightFloats(net)} float32 values for good.cfg), found ${expected - 4} (4 bytes too short)`);
    const long = write('long.weights', '');
    writeFileSync(long, Buffer.concat([bytes, Buffer.alloc(8)]));
    expect(() => readWeights(long, net)).toThrow(`found ${expected + 8} (8 bytes too long)`);
    // a v0.1 header makes the file 4 bytes too long for what the cfg needs
    const hdr = Buffer.from(bytes);
    hdr.writeInt32LE(1, 4);
    writeFileSync(long, hdr);
    expect(() => readWeights(long, net)).toThrow(`expected ${expected - 4} bytes (16-byte v0.1 header`);
    writeFileSync(cut, bytes.subarray(0, 5));
    expect(() => readWeights(cut, net)).toThrow(`expected ${expected} bytes (20-byte header + ${weightFloats(net)} float32 values for good.cfg), found 5`);
    expect(() => readWeights(join(work, 'nope.weights'), net)).toThrow(/^cannot read weights .*nope\.weights: no such file \(ENOENT\)$/);
    expect(() => parseWeights(bytes.subarray(0, 100), net, 'mem')).toThrow(/^mem: expected \d+ bytes .* \(\d+ bytes too short\)$/);
  });
});

describe('importDarknet leaves nothing behind on failure', () => {
  const goodCfg = write('good.cfg', GOOD);
  const goodW = weightsFor('good-imp.weights', GOOD);

  async function expectFailure(opts: Partial<Parameters<typeof importDarknet>[0]>, msg: RegExp | string) {
    const parent = mkdtempSync(join(work, 'out-'));
    const out = join(parent, 'model');
    const p = importDarknet({ cfg: goodCfg, weights: goodW, out, check: false, ...opts });
    await expect(p).rejects.toThrow(msg);
    await expect(p).rejects.toBeInstanceOf(DarknetError);
    expect(readdirSync(parent)).toEqual([]);
  }

  it('bad cfg, bad weights, unsupported layer, wrong names/tree', async () => {
    await expectFailure({ cfg: write('unk.cfg', NET + CONV + '[foo]\n\n' + HEAD) }, /unk\.cfg:13: unknown section \[foo\]/);
    await expectFailure({ cfg: write('yolo.cfg', NET + CONV + '[yolo]\nmask=0\n\n' + HEAD) }, /yolo\.cfg:13: unsupported layer type \[yolo\]/);
    const cut = write('cut2.weights', '');
    writeFileSync(cut, readFileSync(goodW).subarray(0, 1000));
    await expectFailure({ weights: cut }, /bytes too short\)$/);
    const long = write('long2.weights', '');
    writeFileSync(long, Buffer.concat([readFileSync(goodW), Buffer.alloc(4)]));
    await expectFailure({ weights: long }, /found \d+ \(4 bytes too long\)$/);
    await expectFailure({ weights: join(work, 'missing.weights') }, /no such file/);
    await expectFailure({ names: write('two.names', 'a\nb\n') }, /two\.names: 2 names, but the cfg's final layer has 3 classes/);
    await expectFailure({ names: write('blank.names', 'a\n\nb\n') }, /blank\.names:2: empty class name/);
    await expectFailure({ tree: write('t.tree', 'a -1\nb 0\nc 1\n') }, /--tree given, but .*good\.cfg has no \[region\] layer with tree=/);
    const notLast = NET + CONV + POOL;
    await expectFailure({ cfg: write('nohead2.cfg', notLast), weights: weightsFor('nohead2.weights', notLast) }, /the last layer is \[maxpool\]/);
    const treeCfg = NET + CONV + POOL + '[convolutional]\nfilters=9\nsize=1\nactivation=linear\n\n[region]\nclasses=4\nnum=1\ntree=missing.tree\n';
    const tw = weightsFor('tree4.weights', treeCfg);
    const tc = write('tree4.cfg', treeCfg);
    await expectFailure({ cfg: tc, weights: tw }, /tree=missing\.tree, which does not exist here; pass --tree FILE/);
    await expectFailure({ cfg: tc, weights: tw, tree: write('t3.tree', 'a -1\nb 0\nc 0\n') }, /t3\.tree: 3 tree nodes, but the cfg's \[region\] has 4 classes/);
    await expectFailure({ cfg: tc, weights: tw, tree: write('t4.tree', 'a -1\nb 2\nc 0\nd 0\n') }, /t4\.tree:2: parent 2 of node 1 must be -1 or an earlier node/);
    await expectFailure({ cfg: tc, weights: tw, tree: write('t5.tree', 'a -1\nb\nc 0\nd 0\n') }, /t5\.tree:2: expected "label parent_index", got "b"/);
  });

  it('an existing output folder is refused and left untouched; an unwritable parent fails cleanly', async () => {
    const out = mkdtempSync(join(work, 'exists-'));
    writeFileSync(join(out, 'keep.txt'), 'x');
    await expect(importDarknet({ cfg: goodCfg, weights: goodW, out })).rejects.toThrow(/already exists/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    const file = write('afile', 'x');
    await expect(importDarknet({ cfg: goodCfg, weights: goodW, out: join(file, 'sub', 'model') })).rejects.toThrow(
      /^cannot write .*afile\/sub\/model: a parent is not a directory \(ENOTDIR\)$/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('succeeds with names and a WordTree given relative to the cfg; missing parent folders are created', async () => {
    const dir = mkdtempSync(join(work, 'tree-'));
    writeFileSync(join(dir, 'tiny.tree'), 'animal -1\nvehicle -1\ndog 0\ncat 0\ncar 1\nbus 1\n');
    const text = NET + CONV + POOL + '[convolutional]\nfilters=33\nsize=1\nactivation=linear\n\n' +
      '[region]\nanchors=1,1, 2,2, 3,1\nclasses=6\nnum=3\nsoftmax=1\ntree=tiny.tree\n';
    const cfg = join(dir, 'tiny9k.cfg');
    writeFileSync(cfg, text);
    const w = weightsFor('tiny9k.weights', text);
    const out = join(dir, 'models', 'nested', 'tiny9k');
    const r = await importDarknet({ cfg, weights: w, out, names: write('six.names', 'Animal\nVehicle\nDog\nCat\nCar\nBus\n'), name: 'tiny-9k' });
    expect(r.dir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['model.json', 'model.onnx']);
    const m = validateManifest(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
    expect(m).toMatchObject({
      name: 'tiny-9k', kind: 'yolo9000', preprocess: 'letterbox', source: 'darknet', num: 3, coords: 4, softmax: true,
      anchors: [1, 1, 2, 2, 3, 1], nms: 0.45, input: { width: 16, height: 16, channels: 3, layout: 'NCHW' },
      names: ['Animal', 'Vehicle', 'Dog', 'Cat', 'Car', 'Bus'],
      tree: { parents: [-1, -1, 0, 0, 1, 1], labels: ['animal', 'vehicle', 'dog', 'cat', 'car', 'bus'] },
      onnx: { input: 'images', outputs: ['logits'] },
    });
    expect(readdirSync(join(dir, 'models', 'nested'))).toEqual(['tiny9k']); // no temporary left
  });
});

describe('pinhole darknet CLI', () => {
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/pinhole.js', 'darknet', ...args], { encoding: 'utf8', cwd: process.cwd() });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const oneLine = (s: string) => {
    const lines = s.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pinhole: /);
    return lines[0];
  };
  const cfg = write('cli.cfg', GOOD);
  const weights = weightsFor('cli.weights', GOOD);

  it('usage errors exit 2, --help exits 0', () => {
    const h = cli('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Usage: pinhole darknet \[options\] <cfg> <weights>/);
    expect(h.stdout).toMatch(/--names <file>/);
    let r = cli();
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    r = cli(cfg, weights);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/--out/);
    r = cli(cfg, weights, 'extra', '--out', join(work, 'x'));
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/too many arguments/);
    r = cli(cfg, weights, '--out', join(work, 'x'), '--bogus');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/unknown option '--bogus'/);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  it('failures exit 1 with one line and no folder; success writes the folder', () => {
    const parent = mkdtempSync(join(work, 'cli-out-'));
    const out = join(parent, 'm');
    const cut = write('cli-cut.weights', '');
    writeFileSync(cut, readFileSync(weights).subarray(0, 64));
    let r = cli(cfg, cut, '--out', out);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/found 64 \(\d+ bytes too short\)$/);
    r = cli(write('cli-bad.cfg', NET + '[shortcut]\nfrom=-1\n'), weights, '--out', out);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`pinhole: ${join(work, 'cli-bad.cfg')}:6: unsupported layer type [shortcut] (layer 0)`);
    expect(readdirSync(parent)).toEqual([]);

    mkdirSync(join(parent, 'names'));
    r = cli(cfg, weights, '--out', out, '--names', write('cli.names', 'a\nb\nc\n'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*\/m: yolov2 "m", input 16x16x3, 3 classes/);
    const m = validateManifest(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
    expect(m).toMatchObject({ kind: 'yolov2', names: ['a', 'b', 'c'], anchors: [1, 1, 2, 2] });
    expect(statSync(join(out, 'model.onnx')).size).toBeGreaterThan(4 * weightFloats(parseCfg(GOOD)));
    expect(readdirSync(parent).sort()).toEqual(['m', 'names']);
  });
});
