// What a resumed run trains with (src/train/engine/resume-options.ts) and how old checkpoints' options
// are read (migrateYoloOptions), without training anything.
import { describe, expect, it } from 'vitest';
import { flagName, resumedOptions, resumedWithConfig, type ResumeKeys } from '../src/train/engine/resume-options.ts';
import { migrateYoloOptions } from '../src/train/yolo/trainers.ts';

interface Opts {
  out: string;
  size: number;
  epochs: number;
  lr: number;
  seed: number;
  sizes?: number[];
  fresh?: string;
}
const KEYS: ResumeKeys<Opts> = { arch: ['size'], session: ['out'], unset: { sizes: 'the default sizes' } };

describe('resumed options', () => {
  const recorded: Partial<Opts> = { out: '/old', size: 64, epochs: 1, lr: 1e-3, seed: 5 };
  const cli: Opts = { out: '/new', size: 224, epochs: 4, lr: 1e-3, seed: 1, sizes: [96] };

  it('architecture from the checkpoint, session from this process, the rest typed or else the run\'s', () => {
    const lines: string[] = [];
    const o = resumedOptions(cli, ['epochs', 'sizes'], recorded, KEYS, (l) => lines.push(l));
    expect(o).toEqual({ out: '/new', size: 64, epochs: 4, lr: 1e-3, seed: 5, sizes: [96] });
    expect(lines).toEqual(['--epochs 4 (the run had 1)', '--sizes 96 (the run had the default sizes)']);
  });

  it('says when a typed architecture option is ignored, and is silent when a typed option repeats the run\'s', () => {
    const lines: string[] = [];
    const o = resumedOptions(cli, ['size', 'lr'], recorded, KEYS, (l) => lines.push(l));
    expect(o.size).toBe(64);
    expect(o.epochs).toBe(1);
    expect(lines).toEqual(['--size 224 ignored: a resumed run keeps its architecture (--size 64)']);
  });

  it('an option the run never recorded keeps this command line\'s value', () => {
    const o = resumedOptions({ ...cli, fresh: 'x' }, [], recorded, KEYS, () => {});
    expect(o.fresh).toBe('x');
    expect(o.sizes).toEqual([96]);
  });

  it('spells keys as flags', () => {
    expect(flagName('clsPick')).toBe('--cls-pick');
    expect(flagName('lr')).toBe('--lr');
  });
});

describe('migrateYoloOptions', () => {
  it('reads runs from before --jitter, --cls-pick and --cls-scale as they trained', () => {
    const old = migrateYoloOptions('yolo9000', { data: 'synth9k:1:12000', epochs: 8 });
    expect(old).toMatchObject({ jitter: 0.2, clsPick: 'probability' });
    expect(Object.hasOwn(old, 'clsScale') && old.clsScale === undefined).toBe(true);
    // and so a resume that does not type them keeps them, instead of today's defaults
    const cli = { out: 'x', clsPick: 'objectness', clsScale: [0.2, 1.25] as [number, number] | undefined, jitter: 0.05 };
    const o = resumedOptions(cli, [], old as Partial<typeof cli>, { arch: [], session: ['out'] }, () => {});
    expect(o).toEqual({ out: 'x', data: 'synth9k:1:12000', epochs: 8, clsPick: 'probability', clsScale: undefined, jitter: 0.2 });
  });

  it('leaves what a newer run recorded alone', () => {
    const now = { jitter: 0.05, clsPick: 'objectness', clsScale: [0.2, 1.25] };
    expect(migrateYoloOptions('yolo9000', now)).toEqual(now);
    expect(migrateYoloOptions('yolov2', { jitter: 0.05 })).toEqual({ jitter: 0.05 });
  });
});

describe('resumed options with a nested config (the GAN trainers)', () => {
  it('applies the rule at both levels with one list of typed keys', () => {
    const cli = { out: '/new', seed: 1, iterations: 2000, config: { size: 32, zDim: 64, lr: 5e-5, clip: 0.01 } };
    const recorded = { out: '/old', seed: 7, iterations: 700, config: { size: 64, zDim: 100, lr: 1e-4, clip: 0.02 } };
    const lines: string[] = [];
    const configKeys: ResumeKeys<typeof cli.config> = { arch: ['size', 'zDim'], session: [], flags: { zDim: '--z' } };
    const o = resumedWithConfig(cli, ['iterations', 'zDim', 'lr'], recorded, { arch: [], session: ['out'] }, configKeys, (l) => lines.push(l));
    expect(o).toEqual({ out: '/new', seed: 7, iterations: 2000, config: { size: 64, zDim: 100, lr: 5e-5, clip: 0.02 } });
    expect(lines).toEqual([
      '--iterations 2000 (the run had 700)',
      '--z 64 ignored: a resumed run keeps its architecture (--z 100)',
      '--lr 0.00005 (the run had 0.0001)',
    ]);
  });
});
