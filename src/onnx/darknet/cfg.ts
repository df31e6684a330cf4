// Darknet .cfg parser with darknet's own shape inference (pjreddie darknet 61c9d02e, the Debian build the
// oracle runs). Option defaults, the first-occurrence rule for repeated keys and every output-size formula
// follow parser.c and the layer sources; where darknet would silently compute garbage (out-of-range route,
// reorg on sizes it cannot split, 1x1 conv with stride) we stop with an error naming file, line and section.
import { readFileSync } from 'node:fs';
import { DarknetError, ioError } from './errors.ts';

export type Activation =
  | 'logistic' | 'loggy' | 'relu' | 'elu' | 'selu' | 'relie' | 'plse'
  | 'hardtan' | 'lhtan' | 'linear' | 'ramp' | 'leaky' | 'tanh';

const ACTIVATIONS: readonly string[] = [
  'logistic', 'loggy', 'relu', 'elu', 'selu', 'relie', 'plse', 'hardtan', 'lhtan', 'linear', 'ramp', 'leaky', 'tanh',
];

/** A layer's output as darknet sees it. c = h = w = 0 means "a flat vector of `outputs` values" (softmax, detection). */
export interface Dims {
  c: number;
  h: number;
  w: number;
}

interface LayerCommon {
  /** darknet's layer index ([net] excluded) */
  index: number;
  /** 1-based line of the section header */
  line: number;
  input: Dims;
  inputs: number;
  output: Dims;
  outputs: number;
}

export interface ConvLayer extends LayerCommon {
  type: 'convolutional';
  filters: number;
  size: number;
  stride: number;
  padding: number;
  groups: number;
  batchNormalize: boolean;
  activation: Activation;
  /** weights stored [c*k*k][n] instead of [n][c*k*k] */
  flipped: boolean;
}
export interface MaxPoolLayer extends LayerCommon {
  type: 'maxpool';
  size: number;
  stride: number;
  /** total padding; darknet puts padding/2 before and the rest (as far as windows reach) after */
  padding: number;
}
export interface AvgPoolLayer extends LayerCommon { type: 'avgpool' }
export interface RouteLayer extends LayerCommon {
  type: 'route';
  /** absolute layer indices */
  layers: number[];
}
export interface ReorgLayer extends LayerCommon {
  type: 'reorg';
  stride: number;
  reverse: boolean;
}
export interface LocalLayer extends LayerCommon {
  type: 'local';
  filters: number;
  size: number;
  stride: number;
  /** darknet passes the `pad` option value straight to im2col as the padding amount */
  pad: number;
  activation: Activation;
}
export interface ConnectedLayer extends LayerCommon {
  type: 'connected';
  batchNormalize: boolean;
  activation: Activation;
}
export interface DropoutLayer extends LayerCommon { type: 'dropout'; probability: number }
export interface SoftmaxLayer extends LayerCommon { type: 'softmax'; groups: number; temperature: number }
export interface BatchNormLayer extends LayerCommon { type: 'batchnorm' }
export interface DetectionLayer extends LayerCommon {
  type: 'detection';
  classes: number;
  coords: number;
  num: number;
  side: number;
  softmax: boolean;
  sqrt: boolean;
}
export interface RegionLayer extends LayerCommon {
  type: 'region';
  classes: number;
  coords: number;
  num: number;
  softmax: boolean;
  background: boolean;
  anchors: number[];
  /** the cfg's `tree=` value (a path as written in the cfg), when the region uses a WordTree softmax */
  tree?: string;
}

export type Layer =
  | ConvLayer | MaxPoolLayer | AvgPoolLayer | RouteLayer | ReorgLayer | LocalLayer | ConnectedLayer
  | DropoutLayer | SoftmaxLayer | BatchNormLayer | DetectionLayer | RegionLayer;

export interface DarknetNet {
  /** the cfg path or label used in error messages */
  file: string;
  width: number;
  height: number;
  channels: number;
  layers: Layer[];
}

export type ParamName = 'biases' | 'scales' | 'rolling_mean' | 'rolling_variance' | 'weights';

interface RawOption { key: string; value: string; line: number }
interface RawSection { header: string; line: number; options: RawOption[] }

// darknet's strip(): removes every space, tab and newline anywhere in the line (we also drop \r).
const strip = (s: string): string => s.replace(/[ \t\n\r]/g, '');

function splitSections(text: string, file: string): RawSection[] {
  const sections: RawSection[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = strip(lines[i]);
    const no = i + 1;
    if (line === '' || line[0] === '#' || line[0] === ';') continue;
    if (line[0] === '[') {
      sections.push({ header: line, line: no, options: [] });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || eq === line.length - 1) {
      throw new DarknetError(`${file}:${no}: expected key=value, got "${line}"`);
    }
    const cur = sections[sections.length - 1];
    if (!cur) throw new DarknetError(`${file}:${no}: option "${line}" before the first [section]`);
    cur.options.push({ key: line.slice(0, eq), value: line.slice(eq + 1), line: no });
  }
  return sections;
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Typed option access for one section; every failure names file, line and section. */
class Section {
  constructor(readonly raw: RawSection, readonly type: string, readonly file: string, readonly index: number) {}

  fail(msg: string, line = this.raw.line): never {
    const where = this.index >= 0 ? ` (layer ${this.index})` : '';
    throw new DarknetError(`${this.file}:${line}: [${this.type}]${where} ${msg}`);
  }

  // darknet's option_find walks the list from the front: the first occurrence of a key wins.
  private find(key: string): RawOption | undefined {
    return this.raw.options.find((o) => o.key === key);
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  int(key: string, def: number, min = -Infinity): number {
    const o = this.find(key);
    if (!o) return def;
    if (!INT_RE.test(o.value)) this.fail(`${key}=${o.value} is not an integer`, o.line);
    const v = Number(o.value);
    if (v < min) this.fail(`${key}=${o.value} must be >= ${min}`, o.line);
    return v;
  }

  bool(key: string): boolean {
    return this.int(key, 0) !== 0;
  }

  float(key: string, def: number): number {
    const o = this.find(key);
    if (!o) return def;
    if (!FLOAT_RE.test(o.value)) this.fail(`${key}=${o.value} is not a number`, o.line);
    return Number(o.value);
  }

  str(key: string): string | undefined {
    return this.find(key)?.value;
  }

  floats(key: string): { values: number[]; line: number } | undefined {
    const o = this.find(key);
    if (!o) return undefined;
    const values = o.value.split(',').map((s) => {
      if (!FLOAT_RE.test(s)) this.fail(`${key}: "${s}" in "${o.value}" is not a number`, o.line);
      return Number(s);
    });
    return { values, line: o.line };
  }

  activation(def: Activation): Activation {
    const o = this.find('activation');
    if (!o) return def;
    // darknet falls back to relu for names it does not know; an importer must not guess.
    if (!ACTIVATIONS.includes(o.value)) {
      this.fail(`activation=${o.value} is not supported (supported: ${ACTIVATIONS.join(', ')})`, o.line);
    }
    return o.value as Activation;
  }

  /** Options that change what darknet computes and that this importer does not reproduce. */
  reject(keys: string[]): void {
    for (const key of keys) {
      const o = this.find(key);
      if (o && o.value !== '0') this.fail(`${key}=${o.value} is not supported`, o.line);
    }
  }
}

const LAYER_ALIASES: Record<string, Layer['type']> = {
  '[conv]': 'convolutional', '[convolutional]': 'convolutional',
  '[max]': 'maxpool', '[maxpool]': 'maxpool',
  '[avg]': 'avgpool', '[avgpool]': 'avgpool',
  '[route]': 'route', '[reorg]': 'reorg', '[local]': 'local',
  '[conn]': 'connected', '[connected]': 'connected',
  '[dropout]': 'dropout',
  '[soft]': 'softmax', '[softmax]': 'softmax',
  '[batchnorm]': 'batchnorm',
  '[detection]': 'detection', '[region]': 'region',
};

// Sections darknet knows but this importer does not convert: a distinct message from a typo.
const DARKNET_ONLY = new Set([
  '[shortcut]', '[crop]', '[cost]', '[yolo]', '[iseg]', '[deconv]', '[deconvolutional]', '[activation]',
  '[logistic]', '[l2norm]', '[crnn]', '[gru]', '[lstm]', '[rnn]', '[lrn]', '[normalization]', '[upsample]',
]);

const isImage = (d: Dims): boolean => d.c > 0 && d.h > 0 && d.w > 0;
const FLAT: Dims = { c: 0, h: 0, w: 0 };

/** darknet's integer output-size formula; a negative numerator means the window does not fit at all. */
function outSize(s: Section, what: string, numerator: number, stride: number): number {
  if (numerator < 0) s.fail(`${what} window is larger than its (padded) input`);
  return Math.floor(numerator / stride) + 1;
}

export function parseCfg(text: string, file = 'cfg'): DarknetNet {
  const raw = splitSections(text, file);
  if (raw.length === 0) throw new DarknetError(`${file}: no sections`);
  const first = raw[0];
  if (first.header !== '[net]' && first.header !== '[network]') {
    throw new DarknetError(`${file}:${first.line}: the first section must be [net], found ${first.header}`);
  }
  const net = new Section(first, 'net', file, -1);
  const width = net.int('width', 0);
  const height = net.int('height', 0);
  const channels = net.int('channels', 0);
  if (!(width > 0 && height > 0 && channels > 0)) {
    net.fail(`needs positive width, height and channels (got ${width}x${height}x${channels})`);
  }

  const layers: Layer[] = [];
  let dims: Dims = { c: channels, h: height, w: width };
  let inputs = channels * height * width;
  for (let k = 1; k < raw.length; k++) {
    const r = raw[k];
    const index = k - 1;
    const type = LAYER_ALIASES[r.header];
    if (!type) {
      if (r.header === '[net]' || r.header === '[network]') {
        throw new DarknetError(`${file}:${r.line}: a second ${r.header} section; [net] comes once, first`);
      }
      const why = DARKNET_ONLY.has(r.header) ? 'unsupported layer type' : 'unknown section';
      throw new DarknetError(`${file}:${r.line}: ${why} ${r.header} (layer ${index})`);
    }
    const s = new Section(r, type, file, index);
    // Layer-wide loader options: they make darknet keep random init values or skip reads.
    s.reject(['dontload', 'dontloadscales', 'numload']);
    const layer = parseLayer(s, type, index, r.line, dims, inputs, layers);
    layers.push(layer);
    dims = layer.output;
    inputs = layer.outputs;
  }
  if (layers.length === 0) throw new DarknetError(`${file}: no layers after [net]`);
  return { file, width, height, channels, layers };
}

export function readCfg(path: string): DarknetNet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw ioError('read cfg', path, e);
  }
  return parseCfg(text, path);
}

function needImage(s: Section, input: Dims): void {
  if (!isImage(input)) s.fail('needs an image input, but the previous layer outputs a flat vector');
}

/** Where a section sits in the network: what every layer records, and what its parser reads. */
interface LayerContext {
  common: Pick<LayerCommon, 'index' | 'line' | 'input' | 'inputs'>;
  input: Dims;
  inputs: number;
  index: number;
  /** the layers before this one (route refers to them) */
  prev: Layer[];
}

function parseConvolutional(s: Section, { common, input }: LayerContext): ConvLayer {
  const filters = s.int('filters', 1, 1);
  const size = s.int('size', 1, 1);
  const stride = s.int('stride', 1, 1);
  const pad = s.int('pad', 0);
  let padding = s.int('padding', 0, 0);
  const groups = s.int('groups', 1, 1);
  if (pad) padding = Math.floor(size / 2);
  const activation = s.activation('logistic');
  const batchNormalize = s.bool('batch_normalize');
  s.reject(['binary', 'xnor']);
  const flipped = s.bool('flipped');
  needImage(s, input);
  if (input.c % groups !== 0 || filters % groups !== 0) {
    s.fail(`groups=${groups} must divide both the input channels (${input.c}) and filters (${filters})`);
  }
  if (flipped && groups !== 1) s.fail('flipped=1 with groups > 1 is not supported');
  // darknet skips im2col for 1x1 kernels and multiplies the raw input, ignoring stride and padding.
  if (size === 1 && (stride !== 1 || padding !== 0)) {
    s.fail(`size=1 with stride=${stride} padding=${padding}: darknet computes this incorrectly; not supported`);
  }
  const h = outSize(s, 'convolution', input.h + 2 * padding - size, stride);
  const w = outSize(s, 'convolution', input.w + 2 * padding - size, stride);
  const output = { c: filters, h, w };
  return { ...common, type: 'convolutional', filters, size, stride, padding, groups, batchNormalize, activation, flipped, output, outputs: filters * h * w };
}

function parseMaxpool(s: Section, { common, input }: LayerContext): MaxPoolLayer {
  const stride = s.int('stride', 1, 1);
  const size = s.int('size', stride, 1);
  const padding = s.int('padding', size - 1, 0);
  needImage(s, input);
  const h = outSize(s, 'maxpool', input.h + padding - size, stride);
  const w = outSize(s, 'maxpool', input.w + padding - size, stride);
  return { ...common, type: 'maxpool', size, stride, padding, output: { c: input.c, h, w }, outputs: input.c * h * w };
}

function parseAvgpool(s: Section, { common, input }: LayerContext): AvgPoolLayer {
  needImage(s, input);
  return { ...common, type: 'avgpool', output: { c: input.c, h: 1, w: 1 }, outputs: input.c };
}

function parseRoute(s: Section, { common, input, index, prev }: LayerContext): RouteLayer {
  const o = s.str('layers');
  if (o === undefined) s.fail('needs layers=');
  const ids = o.split(',').map((v) => {
    if (!INT_RE.test(v)) s.fail(`layers=${o}: "${v}" is not an integer`);
    const n = Number(v);
    const abs = n < 0 ? index + n : n;
    if (abs < 0 || abs >= index) {
      s.fail(`layers=${o}: ${v} refers to layer ${abs}, outside the layers before it (0..${index - 1})`);
    }
    return abs;
  });
  const src = ids.map((i) => prev[i]);
  const outputs = src.reduce((a, l) => a + l.outputs, 0);
  const f = src[0].output;
  // As parse_route: channels add up when every input has the first one's width and height;
  // otherwise darknet still concatenates the flat outputs but the result has no image shape.
  const same = src.every((l) => l.output.w === f.w && l.output.h === f.h);
  const output = same && isImage(f) ? { c: src.reduce((a, l) => a + l.output.c, 0), h: f.h, w: f.w } : FLAT;
  return { ...common, type: 'route', layers: ids, output, outputs };
}

function parseReorg(s: Section, { common, input, inputs }: LayerContext): ReorgLayer {
  const stride = s.int('stride', 1, 1);
  const reverse = s.bool('reverse');
  s.reject(['flatten', 'extra']);
  needImage(s, input);
  const ss = stride * stride;
  if (input.c % ss !== 0) s.fail(`stride=${stride}: input channels ${input.c} are not divisible by ${ss}`);
  if (reverse) {
    const output = { c: input.c / ss, h: input.h * stride, w: input.w * stride };
    return { ...common, type: 'reorg', stride, reverse, output, outputs: inputs };
  }
  if (input.h % stride !== 0 || input.w % stride !== 0) {
    s.fail(`stride=${stride} does not divide the input size ${input.w}x${input.h}`);
  }
  const output = { c: input.c * ss, h: input.h / stride, w: input.w / stride };
  return { ...common, type: 'reorg', stride, reverse, output, outputs: inputs };
}

function parseLocal(s: Section, { common, input }: LayerContext): LocalLayer {
  const filters = s.int('filters', 1, 1);
  const size = s.int('size', 1, 1);
  const stride = s.int('stride', 1, 1);
  const pad = s.int('pad', 0, 0);
  const activation = s.activation('logistic');
  needImage(s, input);
  // local_out_height(): (h - (pad ? 1 : size)) / stride + 1, while im2col pads by `pad` itself.
  const h = outSize(s, 'local', input.h - (pad ? 1 : size), stride);
  const w = outSize(s, 'local', input.w - (pad ? 1 : size), stride);
  const colH = Math.floor((input.h + 2 * pad - size) / stride) + 1;
  const colW = Math.floor((input.w + 2 * pad - size) / stride) + 1;
  if (colH !== h || colW !== w) {
    s.fail(`size=${size} pad=${pad}: darknet's output grid ${w}x${h} disagrees with its im2col grid ${colW}x${colH}`);
  }
  return { ...common, type: 'local', filters, size, stride, pad, activation, output: { c: filters, h, w }, outputs: filters * h * w };
}

function parseConnected(s: Section, { common, inputs }: LayerContext): ConnectedLayer {
  const out = s.int('output', 1, 1);
  const activation = s.activation('logistic');
  const batchNormalize = s.bool('batch_normalize');
  if (inputs <= 0) s.fail('has no inputs');
  return { ...common, type: 'connected', batchNormalize, activation, output: { c: out, h: 1, w: 1 }, outputs: out };
}

function parseDropout(s: Section, { common, input, inputs }: LayerContext): DropoutLayer {
  const probability = s.float('probability', 0.5);
  return { ...common, type: 'dropout', probability, output: input, outputs: inputs };
}

function parseSoftmax(s: Section, { common, inputs }: LayerContext): SoftmaxLayer {
  const groups = s.int('groups', 1, 1);
  const temperature = s.float('temperature', 1);
  if (temperature === 0) s.fail('temperature=0 divides by zero');
  if (s.has('tree')) s.fail('tree= on a [softmax] layer is not supported (use it on [region])');
  const spatial = s.float('spatial', 0);
  if (spatial !== 0) s.fail('spatial= is not supported (darknet ignores it on the CPU)');
  if (inputs % groups !== 0) s.fail(`groups=${groups} does not divide the ${inputs} inputs`);
  return { ...common, type: 'softmax', groups, temperature, output: FLAT, outputs: inputs };
}

function parseBatchnorm(s: Section, { common, input, inputs }: LayerContext): BatchNormLayer {
  needImage(s, input);
  return { ...common, type: 'batchnorm', output: input, outputs: inputs };
}

function parseDetection(s: Section, { common, inputs }: LayerContext): DetectionLayer {
  const coords = s.int('coords', 1, 0);
  const classes = s.int('classes', 1, 1);
  const num = s.int('num', 1, 1);
  const side = s.int('side', 7, 1);
  const softmax = s.bool('softmax');
  const sqrt = s.bool('sqrt');
  const want = side * side * ((1 + coords) * num + classes);
  if (inputs !== want) {
    s.fail(`expects side*side*((1+coords)*num+classes) = ${side}*${side}*((1+${coords})*${num}+${classes}) = ${want} inputs, the previous layer gives ${inputs}`);
  }
  return { ...common, type: 'detection', classes, coords, num, side, softmax, sqrt, output: FLAT, outputs: inputs };
}

function parseRegion(s: Section, { common, input, inputs }: LayerContext): RegionLayer {
  const coords = s.int('coords', 4, 0);
  const classes = s.int('classes', 20, 1);
  const num = s.int('num', 1, 1);
  const softmax = s.bool('softmax');
  const background = s.bool('background');
  needImage(s, input);
  const want = num * (classes + coords + 1);
  if (input.c !== want) {
    s.fail(`expects num*(classes+coords+1) = ${num}*(${classes}+${coords}+1) = ${want} input channels, the previous layer gives ${input.c}`);
  }
  const a = s.floats('anchors');
  // make_region_layer initialises every bias to .5; the anchors option overwrites them in order.
  let anchors = new Array<number>(2 * num).fill(0.5);
  if (a) {
    if (a.values.length !== 2 * num) s.fail(`anchors has ${a.values.length} values, num=${num} needs ${2 * num}`, a.line);
    anchors = a.values;
  }
  const tree = s.str('tree');
  return { ...common, type: 'region', classes, coords, num, softmax, background, anchors, tree, output: input, outputs: inputs };
}

/** One parser per layer type: each reads its options, checks them against its input, and sizes its output. */
const LAYER_PARSERS: { [T in Layer['type']]: (s: Section, c: LayerContext) => Extract<Layer, { type: T }> } = {
  convolutional: parseConvolutional,
  maxpool: parseMaxpool,
  avgpool: parseAvgpool,
  route: parseRoute,
  reorg: parseReorg,
  local: parseLocal,
  connected: parseConnected,
  dropout: parseDropout,
  softmax: parseSoftmax,
  batchnorm: parseBatchnorm,
  detection: parseDetection,
  region: parseRegion,
};

function parseLayer(
  s: Section, type: Layer['type'], index: number, line: number, input: Dims, inputs: number, prev: Layer[],
): Layer {
  return LAYER_PARSERS[type](s, { common: { index, line, input, inputs }, input, inputs, index, prev });
}

/** The .weights record of one layer, in file order (FORMAT.md). Empty for layers without parameters. */
export function paramLayout(l: Layer): Array<{ name: ParamName; count: number }> {
  const bn = (n: number) => [
    { name: 'scales' as const, count: n },
    { name: 'rolling_mean' as const, count: n },
    { name: 'rolling_variance' as const, count: n },
  ];
  switch (l.type) {
    case 'convolutional':
      return [
        { name: 'biases', count: l.filters },
        ...(l.batchNormalize ? bn(l.filters) : []),
        { name: 'weights', count: (l.input.c / l.groups) * l.filters * l.size * l.size },
      ];
    case 'connected':
      return [
        { name: 'biases', count: l.outputs },
        { name: 'weights', count: l.outputs * l.inputs },
        ...(l.batchNormalize ? bn(l.outputs) : []),
      ];
    case 'local':
      return [
        { name: 'biases', count: l.outputs },
        { name: 'weights', count: l.output.h * l.output.w * l.filters * l.input.c * l.size * l.size },
      ];
    case 'batchnorm':
      return bn(l.input.c);
    default:
      return [];
  }
}
