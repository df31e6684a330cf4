// Registers yolov1, yolov2 and yolo9000 with `pinhole train` (options only; training code loads lazily).
import type { Command } from 'commander';
import { intOption, numberOption, UsageError } from '../../cli/errors.ts';
import { registerTrainer } from '../registry.ts';
import type { YoloKind, YoloTrainOptions } from './trainers.ts';
import { CLS_PICKS, type ClsPick } from './types.ts';

function sizeList(raw: string): number[] {
  const v = raw.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((n) => !Number.isInteger(n) || n < 32 || n > 2048)) {
    throw new UsageError(`--sizes must be a comma list of integers in [32, 2048], got "${raw}"`);
  }
  return v;
}

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

function common(cmd: Command, kind: YoloKind): Command {
  cmd
    .option('--data <spec>', 'training detections: synth:SEED:COUNT, voc:DIR, coco:JSON:IMAGES, yolo:DIR, ...', kind === 'yolo9000' ? 'synth9k:1:12000' : 'synth:1:12000')
    .option('--val <spec>', 'held-out set evaluated (by pinhole eval) after training; its figures go into model.json', 'synth:999:500')
    .option('--epochs <n>', 'passes over --data (a fraction ends the schedule inside an epoch)', numberOption('--epochs', 1e-9, 100_000), { yolov1: 3, yolov2: 4, yolo9000: 2 }[kind])
    .option('--batch <n>', 'detection images per step', intOption('--batch', 1, 1024), 8)
    .option('--size <px>', 'network input side (exported size)', intOption('--size', 32, 2048), 224)
    .option('--lr <rate>', 'Adam learning rate (after burn-in; cosine decay to 5%; with --resume: a warm restart from this rate)', numberOption('--lr', 1e-7, 1), 1e-3)
    .option('--burn-in <steps>', 'learning-rate warm-up steps', intOption('--burn-in', 0, 1e9), 100)
    .option('--seed <n>', 'seed of weights, data order, augmentation, multi-scale sizes', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--ckpt-dir <dir>', 'checkpoint folder (default OUT/checkpoints)')
    .option('--ckpt-every <steps>', 'checkpoint interval (also every 15 minutes)', intOption('--ckpt-every', 1, 1e9), 200)
    .option('--resume', 'continue from the newest checkpoint in --ckpt-dir')
    .option('--max-steps <n>', 'stop after N steps in this run (resume later)', intOption('--max-steps', 1, 1e12))
    .option('--no-augment', 'no jitter, flips or colour distortion')
    .option('--jitter <f>', 'aspect-ratio jitter (default 0.05 on synth data, whose classes differ by aspect; 0.2 otherwise)', numberOption('--jitter', 0, 0.5))
    .option('--backbone <dir>', 'initialise the backbone from a `pinhole train backbone` run (pretrained classifier) or a yolov2 run (its convolutional layers)')
    .option('--in-process', 'build batches on the main thread instead of a worker');
  if (kind === 'yolov1') {
    cmd.option('--side <S>', 'grid size S', intOption('--side', 1, 64), 7).option('--num <B>', 'boxes per cell B', intOption('--num', 1, 16), 2);
  } else {
    cmd.option('--num <k>', 'anchors (k-means clusters)', intOption('--num', 1, 16), 5)
      .option('--sizes <list>', 'multi-scale input sizes, multiples of 32 (default size-64,size-32,size,size+32); with --resume, the rest of the run trains at these', sizeList);
  }
  if (kind === 'yolo9000') {
    cmd.option('--cls <spec>', 'classification set with finer labels (synthcls:SEED:COUNT or DIR/<class>/<image>)', 'synthcls:2:12000')
      .option('--cls-batch <n>', 'classification images per step', intOption('--cls-batch', 1, 1024), 4)
      .option('--cls-pick <rule>', `predictor that learns a classification image's label: objectness (the box the detector reports) or probability (the paper's: highest objectness x class probability)`, clsPick, 'objectness')
      .option('--cls-scale <lo,hi>', 'scale range of the classification images in the input (smaller than the detection images\' .75-1.25: their one object then has the scenes\' object sizes)', scaleRange, [0.2, 1.25])
      .option('--tree <file>', 'WordTree in darknet 9k.tree format (default: grown from WordNet for the synth classes)');
  }
  return cmd;
}

for (const kind of ['yolov1', 'yolov2', 'yolo9000'] as const) {
  registerTrainer({
    name: kind,
    description: DESCRIPTIONS[kind],
    options: (cmd) => common(cmd, kind),
    async run(raw) {
      const { trainYolo } = await import('./trainers.ts');
      const o = raw as unknown as YoloTrainOptions & { side?: number };
      await trainYolo(kind, {
        ...o,
        side: o.side ?? 7,
        clsBatch: (raw.clsBatch as number | undefined) ?? 0,
        augment: raw.augment !== false,
        inProcess: raw.inProcess === true,
        progress: true,
      });
    },
  });
}

registerTrainer({
  name: 'backbone',
  description: 'the detectors\' backbone pretrained as a classifier (as the YOLO papers pretrain Darknet), for --backbone',
  options: (cmd) => cmd
    .option('--data <spec>', 'classification set (synthcls:SEED:COUNT[:SIZE] or DIR/<class>/<image>)', 'synthcls:3:40000:128')
    .option('--val <spec>', 'held-out classification set whose top-1 accuracy is printed at the end', 'synthcls:998:1000:128')
    .option('--epochs <n>', 'passes over --data', intOption('--epochs', 1, 100_000), 2)
    .option('--batch <n>', 'images per step', intOption('--batch', 1, 1024), 32)
    .option('--sizes <list>', 'input sizes, multiples of 16, one picked every 10 steps', sizeList, [64, 96, 128])
    .option('--lr <rate>', 'Adam learning rate (after burn-in; cosine decay to 5%)', numberOption('--lr', 1e-7, 1), 2e-3)
    .option('--burn-in <steps>', 'learning-rate warm-up steps', intOption('--burn-in', 0, 1e9), 100)
    .option('--seed <n>', 'seed of weights, data order and augmentation', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--jitter <f>', 'aspect-ratio jitter', numberOption('--jitter', 0, 0.5), 0.05)
    .option('--ckpt-every <steps>', 'checkpoint interval (also every 15 minutes)', intOption('--ckpt-every', 1, 1e9), 200)
    .option('--resume', 'continue from the newest checkpoint in --out')
    .option('--max-steps <n>', 'stop after N steps in this run (resume later)', intOption('--max-steps', 1, 1e12))
    .option('--in-process', 'build batches on the main thread instead of a worker'),
  async run(raw) {
    const { trainBackbone } = await import('./backbone.ts');
    await trainBackbone(raw as unknown as import('./backbone.ts').BackboneTrainOptions);
  },
});
