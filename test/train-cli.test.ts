// `pinhole train` end to end on tiny generated data: train, export, evaluate with pinhole eval, resume;
// and its usage errors.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest.ts';

const BIN = path.resolve('bin/pinhole.js');
const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
  });
});
const dir = mkdtempSync(path.join(tmpdir(), 'pinhole-train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pinhole train', () => {
  it('trains a tiny yolov2, exports the folder and records pinhole eval figures with the held-out seed', async () => {
    const out = path.join(dir, 'tiny-v2');
    const args = ['train', 'yolov2', '--data', 'synth:3:8:64', '--val', 'synth:998:4:64', '--size', '64', '--sizes', '64',
      '--epochs', '1', '--batch', '4', '--num', '2', '--out', out];
    const r = await run(args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/anchors \(k-means, 1 - IoU/);
    expect(r.stdout).toMatch(/yolov2 on synth:998:4:64: mAP@0\.5 \d/);
    const m = validateManifest(JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')));
    expect(m).toMatchObject({ kind: 'yolov2', preprocess: 'letterbox', source: 'pinhole-train', num: 2, input: { width: 64, height: 64 } });
    expect(m.metrics).toMatchObject({ eval_data: 'synth:998:4:64', eval_seed: 998, train_seed: 3, train_steps: 2 });
    expect(typeof m.metrics!.map50).toBe('number');
    expect(existsSync(path.join(out, 'checkpoints', 'latest'))).toBe(true);
    // a finished run resumes to the same place and only exports again
    const again = await run([...args, '--resume']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/resumed yolov2 from .*ckpt-00000002: step 2\/2/);
    // --epochs typed with --resume extends the schedule from where the run stopped
    const longer = await run([...args.map((a) => (a === '1' ? '2' : a)), '--resume']);
    expect(longer.code).toBe(0);
    expect(longer.stdout).toMatch(/--epochs 2 \(the run had 1\)/);
    expect(validateManifest(JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'))).metrics).toMatchObject({ train_steps: 4 });
    // --sizes (and --lr) typed with --resume: the remaining steps train at other sizes (and from another
    // base rate), and later resumes keep them
    const sized = await run([...args.map((a) => (a === '1' ? '3' : a === '64' ? '96' : a)).filter((a, i, all) => all[i - 1] !== '--size' && a !== '--size'), '--resume', '--lr', '0.0004']);
    expect(sized.stderr).toBe('');
    expect(sized.code).toBe(0);
    expect(sized.stdout).toMatch(/--sizes 96 \(the run had 64\)/);
    expect(sized.stdout).toMatch(/sizes 96\b/);
    expect(sized.stdout).toMatch(/--lr 0\.0004 \(the run had 0\.001\)/);
    const kept = JSON.parse(readFileSync(path.join(out, 'checkpoints', 'ckpt-00000006', 'meta.json'), 'utf8')) as { options: { sizes: number[]; lr: number } };
    expect(kept.options).toMatchObject({ sizes: [96], lr: 0.0004 });
    // pinhole export: the same model folder straight from the checkpoint
    const out2 = path.join(dir, 'exported');
    const ex = await run(['export', path.join(out, 'checkpoints'), '--out', out2]);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toMatch(/yolov2 at step 6, 24 images/);
    expect(readFileSync(path.join(out2, 'model.onnx')).equals(readFileSync(path.join(out, 'model.onnx')))).toBe(true);
    // YOLOv2 is fully convolutional: the same weights export at another input size
    const out3 = path.join(dir, 'exported-96');
    const big = await run(['export', path.join(out, 'checkpoints'), '--out', out3, '--size', '96', '--val', 'synth:998:4:64']);
    expect(big.stderr).toBe('');
    expect(big.code).toBe(0);
    expect(big.stdout).toMatch(/yolov2 on synth:998:4:64: mAP@0\.5 \d/);
    const m96 = validateManifest(JSON.parse(readFileSync(path.join(out3, 'model.json'), 'utf8')));
    expect(m96.input).toMatchObject({ width: 96, height: 96 });
    expect((m96 as { anchors?: number[] }).anchors).toEqual((m as { anchors?: number[] }).anchors);
    const odd = await run(['export', path.join(out, 'checkpoints'), '--out', path.join(dir, 'x'), '--size', '100']);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/^pinhole: --size 100 is not a multiple of the network stride 16\n$/);
    const treeless = await run(['export', path.join(out, 'checkpoints'), '--out', path.join(dir, 'x'), '--hier', '0.2']);
    expect(treeless.code).toBe(1);
    expect(treeless.stderr).toMatch(/^pinhole: --hier: a yolov2 model has no WordTree/);
    const bad = await run(['export', path.join(dir, 'nothing-here'), '--out', path.join(dir, 'x')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^pinhole: no checkpoint in /);
  }, 240_000);

  it('trains a tiny yolo9000 jointly, a fractional schedule, and resumes it under the other classification pick', async () => {
    const out = path.join(dir, 'tiny-9k');
    const args = ['train', 'yolo9000', '--data', 'synth9k:3:8:64', '--cls', 'synthcls:2:8:64', '--val', 'synth:998:4:64', '--size', '64',
      '--sizes', '64', '--batch', '4', '--cls-batch', '2', '--num', '2', '--out', out];
    const r = await run([...args, '--epochs', '1.5']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 steps\/epoch x 1\.5 epochs = 3 steps, batch 4 \+ 2 classification \(picked by objectness, scale 0\.2-1\.25\)/);
    expect(r.stdout).toMatch(/classification-only classes mAP@0\.5 \d/);
    const meta = (step: number) => JSON.parse(readFileSync(path.join(out, 'checkpoints', `ckpt-0000000${step}`, 'meta.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(meta(3).options).toMatchObject({ clsPick: 'objectness', clsScale: [0.2, 1.25], epochs: 1.5 });
    const m = validateManifest(JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')));
    expect(m.kind).toBe('yolo9000');
    expect(m.metrics).toMatchObject({ train_steps: 3, cls_data: 'synthcls:2:8:64' });
    const again = await run([...args, '--resume', '--epochs', '3', '--cls-pick', 'probability', '--cls-scale', '0.5,1']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/--cls-pick probability \(the run had objectness\)/);
    expect(again.stdout).toMatch(/--cls-scale 0\.5,1 \(the run had 0\.2,1\.25\)/);
    expect(again.stdout).toMatch(/resumed yolo9000 from .*ckpt-00000003: step 3\/6/);
    expect(meta(6).options).toMatchObject({ clsPick: 'probability', clsScale: [0.5, 1], epochs: 3 });
    // a resume that types nothing keeps the run's choices
    // (the architecture is the checkpoint's: a typed --num is ignored, and said so)
    const kept = await run([...args, '--resume', '--epochs', '3.5', '--num', '3']);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/picked by probability, scale 0\.5-1\)/);
    expect(kept.stdout).toMatch(/--num 3 ignored: a resumed run keeps its architecture \(--num 2\)/);
    // export with the model's own hierarchy threshold: written to model.json, used by pinhole eval
    const withHier = path.join(dir, 'tiny-9k-hier');
    const ex = await run(['export', path.join(out, 'checkpoints'), '--out', withHier, '--hier', '0.2', '--val', 'synth:998:4:64']);
    expect(ex.stderr).toBe('');
    expect(ex.code).toBe(0);
    const mh = validateManifest(JSON.parse(readFileSync(path.join(withHier, 'model.json'), 'utf8')));
    expect(mh).toMatchObject({ kind: 'yolo9000', hier: 0.2, metrics: { hier: 0.2, tree_scores: 'classes' } });
    // pinhole eval scores each class at every box by default; --tree-scores top is the server's answer
    const byClass = await run(['eval', withHier, '--data', 'synth:998:4:64']);
    expect(byClass.code).toBe(0);
    expect(byClass.stdout).toMatch(/boxes scored by class \(objectness x path probability\)/);
    const byTop = await run(['eval', withHier, '--data', 'synth:998:4:64', '--tree-scores', 'top']);
    expect(byTop.stdout).toMatch(/boxes scored by top node \(hier 0\.2\)/);
    const badMode = await run(['eval', withHier, '--data', 'synth:998:4:64', '--tree-scores', 'all']);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/^pinhole: --tree-scores must be one of top, classes, got "all"\n$/);
  }, 240_000);

  it('reports bad usage with exit code 2 and one line', async () => {
    for (const args of [
      ['train', 'yolov2', '--out', path.join(dir, 'x'), '--epochs', '0'],
      ['train', 'yolov2', '--out', path.join(dir, 'x'), '--data', 'nosuch:1:2'],
      ['train', 'yolov1', '--epochs', '1'],
      ['train', 'yolov2', '--out', path.join(dir, 'x'), '--sizes', '64,abc'],
      ['train', 'yolo9000', '--out', path.join(dir, 'x'), '--cls-pick', 'nearest'],
      ['train', 'yolo9000', '--out', path.join(dir, 'x'), '--cls-scale', '1,0.5'],
      ['train', 'yolov2', '--out', path.join(dir, 'x'), '--data', 'synth:3:8:64', '--epochs', '0.001'],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^pinhole: /);
    }
  }, 120_000);
});
