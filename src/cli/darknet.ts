// `pinhole darknet CFG WEIGHTS --out DIR [--names FILE] [--tree FILE] [--name NAME]`
import type { Command } from 'commander';
import { importDarknet } from '../onnx/darknet/folder.ts';

export function register(program: Command): void {
  program
    .command('darknet')
    .description('import a darknet cfg + weights (YOLOv1, YOLOv2, YOLO9000) into a model folder (model.onnx + model.json)')
    .argument('<cfg>', 'darknet .cfg file')
    .argument('<weights>', 'darknet .weights file (its size must match the cfg exactly)')
    .requiredOption('--out <dir>', 'model folder to create (must not exist yet)')
    .option('--names <file>', 'class names, one per line (default: class_0, class_1, ...)')
    .option('--tree <file>', "WordTree in darknet's 9k.tree format (default: the [region] layer's tree= file)")
    .option('--name <name>', 'model name in model.json (default: the folder name)')
    .allowExcessArguments(false)
    .action(async (cfg: string, weights: string, o: { out: string; names?: string; tree?: string; name?: string }) => {
      const r = await importDarknet({ cfg, weights, out: o.out, names: o.names, tree: o.tree, name: o.name });
      const m = r.manifest;
      process.stdout.write(
        `wrote ${r.dir}: ${m.kind} "${m.name}", input ${m.input.width}x${m.input.height}x${m.input.channels}, ` +
        `${m.names.length} classes, model.onnx ${(r.onnxBytes / 1e6).toFixed(1)} MB, ${r.seconds.total.toFixed(2)} s\n`,
      );
    });
}
