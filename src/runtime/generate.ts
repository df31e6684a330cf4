// GAN sampling on ONNX Runtime: text -> image (StackGAN) and unconditional samples (WGAN), as PNG.
// The generators take their randomness as inputs (noise z, and for StackGAN the conditioning
// augmentation's eps), drawn here from a PRNG keyed by the seed, so one seed always gives one image.
// Inference goes through an `infer` function (the Runtime's worker-thread path, or a direct ORT
// session for tests and the CLI), so this module holds no session of its own.
import { encodePng } from '../codec/png.ts';
import { PinholeError } from '../errors.ts';
import type { Manifest, StackGanManifest } from '../manifest.ts';
import { toRgb, tile } from '../vision/generated-images.ts';
import { checkText } from '../vision/text.ts';
import type { RawTensor } from './types.ts';

export { encodePng };

export type InferFn = (inputs: Record<string, RawTensor>) => Promise<Record<string, RawTensor>>;

export interface GenerateRequest {
  text: string;
  seed?: number;
  stage?: 1 | 2;
}

export interface SampleRequest {
  seed?: number;
  n?: number;
}

export interface GeneratedImage {
  png: Uint8Array;
  seed: number;
}

/** The generator part of a StackGAN model.json: the manifest itself (validated by manifest.ts). */
export type StackGanSpec = StackGanManifest;

/** What sampling needs of a WGAN model.json. */
export interface WganSpec {
  inputs: { noise: string };
  zDim: number;
  output: string;
  /** image side in pixels */
  size: number;
}

export const MAX_SEED = 2 ** 32 - 1;
export const MAX_SAMPLES = 64;

// ---------------------------------------------------------------- seeded noise

/** 32-bit integer hash (splitmix-style finaliser) of several keys. */
function hash(...keys: number[]): number {
  let h = 0x85ebca6b;
  for (const k of keys) {
    h = Math.imul((h ^ (k >>> 0)) >>> 0, 0x9e3779b1) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
    h = Math.imul(h, 0x297a2d39) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

/** Streams of the seeded noise: one per model input, so z and eps never share draws. */
export const NOISE_STREAM = { z: 1, eps: 2 } as const;

/**
 * n standard-normal floats for (seed, stream, item): sfc32 keyed by a hash of the three, Box-Muller.
 * `item` lets sample k of a grid be the same image whatever the grid size.
 */
export function seededNormals(seed: number, stream: number, item: number, n: number): Float32Array {
  let a = hash(seed, stream, item, 1);
  let b = hash(seed, stream, item, 2);
  let c = hash(seed, stream, item, 3);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = (next() + 1) / 4294967297; // (0, 1): log(0) never happens
    const u2 = next() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The request's seed, or a fresh random one (returned to the caller so the image can be repeated). */
export function resolveSeed(seed: unknown): number {
  if (seed === undefined || seed === null) return Math.floor(Math.random() * (MAX_SEED + 1));
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new PinholeError('bad_parameter', `seed must be an integer in [0, ${MAX_SEED}], got ${JSON.stringify(seed)}`);
  }
  return seed;
}

// ---------------------------------------------------------------- model.json sections

function wrongKind(m: Manifest, kind: 'stackgan' | 'wgan'): PinholeError {
  const what = kind === 'stackgan' ? 'text-to-image generation' : 'sampling';
  return new PinholeError('bad_parameter', `model "${m.name}" is a ${m.kind} model; ${what} needs a ${kind} model`);
}

/** A stackgan model.json, typed; a model of another kind is a 400. */
export function stackGanSpec(m: Manifest): StackGanSpec {
  if (m.kind !== 'stackgan') throw wrongKind(m, 'stackgan');
  return m;
}

export function wganSpec(m: Manifest): WganSpec {
  if (m.kind !== 'wgan') throw wrongKind(m, 'wgan');
  return { inputs: m.inputs, zDim: m.zDim, output: m.output, size: m.input.width };
}

// ---------------------------------------------------------------- requests

function output(outs: Record<string, RawTensor>, name: string): RawTensor {
  const t = outs[name];
  if (!t) throw new PinholeError('internal', `the model produced no output "${name}"`);
  return t;
}

/** The generator's feeds for one text and seed (exported for tests and the bench). */
export function stackGanFeeds(spec: StackGanSpec, ids: Int32Array, seed: number): Record<string, RawTensor> {
  return {
    [spec.inputs.tokens]: { type: 'int32', dims: [1, spec.text.maxTokens], data: ids },
    [spec.inputs.noise]: { type: 'float32', dims: [1, spec.zDim], data: seededNormals(seed, NOISE_STREAM.z, 0, spec.zDim) },
    [spec.inputs.eps]: { type: 'float32', dims: [1, spec.cDim], data: seededNormals(seed, NOISE_STREAM.eps, 0, spec.cDim) },
  };
}

/**
 * A text-to-image request checked against its model, once: the model is a stackgan, the stage exists,
 * the text encodes in its vocabulary, the seed is drawn or valid. What runs it trusts all of this.
 */
export interface GeneratePlan {
  model: string;
  /** the model.json it was checked against (a reload makes another) */
  manifest: Manifest;
  spec: StackGanSpec;
  ids: Int32Array;
  seed: number;
  stage: 1 | 2;
  /** the request as asked, to plan again if the model is reloaded before it runs */
  asked: GenerateRequest;
}

/** A sampling request checked against its model: a wgan, n in range, the seed drawn or valid. */
export interface SamplePlan {
  model: string;
  manifest: Manifest;
  spec: WganSpec;
  n: number;
  seed: number;
  asked: SampleRequest;
}

export function planGenerate(model: string, m: Manifest, req: GenerateRequest): GeneratePlan {
  const spec = stackGanSpec(m);
  if (!req || typeof req !== 'object') throw new PinholeError('bad_request', 'generate needs {text, seed?, stage?}');
  const stage = req.stage ?? 2;
  if (stage !== 1 && stage !== 2) throw new PinholeError('bad_parameter', `stage must be 1 or 2, got ${JSON.stringify(req.stage)}`);
  const { ids } = checkText(req.text, spec.text);
  return { model, manifest: m, spec, ids, seed: resolveSeed(req.seed), stage, asked: req };
}

export function planSample(model: string, m: Manifest, req: SampleRequest = {}): SamplePlan {
  const spec = wganSpec(m);
  const n = req.n ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SAMPLES) throw new PinholeError('bad_parameter', `n must be an integer in [1, ${MAX_SAMPLES}], got ${JSON.stringify(req.n)}`);
  return { model, manifest: m, spec, n, seed: resolveSeed(req.seed), asked: req };
}

/** Text to image with a planned StackGAN request: Stage-II (default) or Stage-I. */
export async function runGenerate(plan: GeneratePlan, infer: InferFn): Promise<GeneratedImage> {
  const { spec, seed } = plan;
  const outs = await infer(stackGanFeeds(spec, plan.ids, seed));
  const { width, height, images } = toRgb(output(outs, spec.stages[plan.stage].output));
  return { png: await encodePng(images[0], width, height), seed };
}

/** n unconditional WGAN samples (a grid when n > 1); sample k depends only on (seed, k). */
export async function runSample(plan: SamplePlan, infer: InferFn): Promise<GeneratedImage> {
  const { spec, n, seed } = plan;
  const z = new Float32Array(n * spec.zDim);
  for (let k = 0; k < n; k++) z.set(seededNormals(seed, NOISE_STREAM.z, k, spec.zDim), k * spec.zDim);
  const outs = await infer({ [spec.inputs.noise]: { type: 'float32', dims: [n, spec.zDim], data: z } });
  const { width, height, images } = toRgb(output(outs, spec.output));
  const grid = tile(images, width, height);
  return { png: await encodePng(grid.rgb, grid.width, grid.height), seed };
}
