// `pinhole train yolov1 | yolov2 | yolo9000 | backbone`: their flags, turned into the typed options of
// src/train/yolo (the training code loads only when a command runs).
import type { Command } from 'commander';
import type { BackboneTrainOptions } from '../train/yolo/backbone.ts';
import type { YoloKind, YoloTrainOptions } from '../train/yolo/trainers.ts';
import { CLS_PICKS, type ClsPick } from '../train/yolo/types.ts';
import { intOption, UsageError } from './errors.ts';
import { addFlags, runFlags as f, sizeList, type TrainCommand } from './train-flags.ts';

function clsPick(raw: string): ClsPick {
  if (!(CLS_PICKS as readonly string[]).includes(raw)) throw new UsageError(`--cls-pick must be one of ${CLS_PICKS.join(', ')}, got "${raw}"`);
  return raw as ClsPick;
}

function scaleRange(raw: string): [number, number] {
  const v = raw.split(',').map((s) => Number(s.trim()));
  if (v.length !== 2 || v.some((n) => !Number.isFinite(n) || n <= 0 || n > 4) || v[0] > v[1]) {
    throw new UsageError(`--cls-scale must be two numbers lo,hi with 0 < lo <= hi <= 4, got "${raw}"`);
  }
  return [v[0], v[1]];
}

const DESCRIPTIONS: Record<YoloKind, string> = {
  yolov1: 'YOLOv1 (Redmon et al. 2016): S x S grid, B boxes, sum-squared loss with sqrt w/h',
  yolov2: 'YOLOv2 (Redmon & Farhadi 2017): Darknet-19-style backbone, k-means anchors, passthrough, multi-scale',
  yolo9000: 'YOLO9000: YOLOv2 with a WordTree softmax, joint detection + classification training',
};

function runFlagsOf(cmd: Command, kind: YoloKind): Command {
  return addFlags(cmd,
    f.data('training detections: synth:SEED:COUNT, voc:DIR, coco:JSON:IMAGES, yolo:DIR, ...', kind === 'yolo9000' ? 'synth9k:1:12000' : 'synth:1:12000'),
    f.val('held-out set evaluated (by pinhole eval) after training; its figures go into model.json', 'synth:999:500'),
    f.epochs('passes over --data (a fraction ends the schedule inside an epoch)', { yolov1: 3, yolov2: 4, yolo9000: 2 }[kind], true),
    f.batch('detection images per step', 8),
    f.size('network input side (exported size)', 224),
    f.lr('Adam learning rate (after burn-in; cosine decay to 5%; with --resume: a warm restart from this rate)', 1e-3),
    f.burnIn(),
    f.seed('weights, data order, augmentation, multi-scale sizes'),
    f.ckptDir('checkpoint folder (default OUT/checkpoints)'),
    f.ckptEvery('steps; also every 15 minutes', 200),
    f.resume('--ckpt-dir'),
    f.maxSteps('steps'),
  )
    .option('--no-augment', 'no jitter, flips or colour distortion')
    .addOption(f.jitter('aspect-ratio jitter (default 0.05 on synth data, whose classes differ by aspect; 0.2 otherwise)'))
    .option('--backbone <dir>', 'initialise the backbone from a `pinhole train backbone` run (pretrained classifier) or a yolov2 run (its convolutional layers)')
    .addOption(f.inProcess());
}

function yoloFlags(cmd: Command, kind: YoloKind): Command {
  runFlagsOf(cmd, kind);
  if (kind === 'yolov1') {
    cmd.option('--side <S>', 'grid size S', intOption('--side', 1, 64), 7).option('--num <B>', 'boxes per cell B', intOption('--num', 1, 16), 2);
  } else {
    cmd.option('--num <k>', 'anchors (k-means clusters)', intOption('--num', 1, 16), 5)
      .addOption(f.sizes('multi-scale input sizes, multiples of 32 (default size-64,size-32,size,size+32); with --resume, the rest of the run trains at these'));
  }
  if (kind === 'yolo9000') {
    cmd.option('--cls <spec>', 'classification set with finer labels (synthcls:SEED:COUNT or DIR/<class>/<image>)', 'synthcls:2:12000')
      .addOption(f.batch('classification images per step', 4, '--cls-batch'))
      .option('--cls-pick <rule>', 'predictor that learns a classification image\'s label: objectness (the box the detector reports) or probability (the paper\'s: highest objectness x class probability)', clsPick, 'objectness')
      .option('--cls-scale <lo,hi>', 'scale range of the classification images in the input (smaller than the detection images\' .75-1.25: their one object then has the scenes\' object sizes)', scaleRange, [0.2, 1.25])
      .option('--tree <file>', 'WordTree in darknet 9k.tree format (default: grown from WordNet for the synth classes)');
  }
  return cmd;
}

/** The parsed flags as src/train/yolo's options. */
function yoloOptions(raw: Record<string, unknown>, given: string[]): YoloTrainOptions {
  const o = raw as unknown as YoloTrainOptions & { side?: number; clsBatch?: number };
  return {
    ...o, side: o.side ?? 7, clsBatch: o.clsBatch ?? 0, augment: raw.augment !== false, inProcess: raw.inProcess === true,
    resume: raw.resume === true, progress: true, given,
  };
}

const detectors: TrainCommand[] = (['yolov1', 'yolov2', 'yolo9000'] as const).map((kind) => ({
  name: kind,
  description: DESCRIPTIONS[kind],
  flags: (cmd) => yoloFlags(cmd, kind),
  async run(raw, given) {
    const { trainYolo } = await import('../train/yolo/trainers.ts');
    await trainYolo(kind, yoloOptions(raw, given));
  },
}));

const backbone: TrainCommand = {
  name: 'backbone',
  description: 'the detectors\' backbone pretrained as a classifier (as the YOLO papers pretrain Darknet), for --backbone',
  flags: (cmd) => addFlags(cmd,
    f.data('classification set (synthcls:SEED:COUNT[:SIZE] or DIR/<class>/<image>)', 'synthcls:3:40000:128'),
    f.val('held-out classification set whose top-1 accuracy is printed at the end', 'synthcls:998:1000:128'),
    f.epochs('passes over --data', 2, false),
    f.batch('images per step', 32),
    f.sizes('input sizes, multiples of 16, one picked every 10 steps', [64, 96, 128]),
    f.lr('Adam learning rate (after burn-in; cosine decay to 5%)', 2e-3),
    f.burnIn(),
    f.seed('weights, data order and augmentation'),
    f.jitter('aspect-ratio jitter', 0.05),
    f.ckptEvery('steps; also every 15 minutes', 200),
    f.resume('--out'),
    f.maxSteps('steps'),
    f.inProcess(),
  ),
  async run(raw, given) {
    const { trainBackbone } = await import('../train/yolo/backbone.ts');
    await trainBackbone({ ...(raw as unknown as BackboneTrainOptions), resume: raw.resume === true, inProcess: raw.inProcess === true, given });
  },
};

export const yoloCommands: TrainCommand[] = [...detectors, backbone];
