// One line per subcommand module; each exports `register(program)`.
import type { Command } from 'commander';
import { register as darknet } from './darknet.ts';
import { register as faceapi } from './faceapi.ts';
import { register as detect } from './detect.ts';
import { register as evaluate } from './eval.ts';
import { register as generate } from './generate.ts';
import { register as serve } from './serve.ts';
import { register as train } from './train.ts';
import { register as exportCkpt } from './export.ts';
import { register as bench } from './bench.ts';
import { register as quantize } from './quantize.ts';

export const commands: Array<(program: Command) => void> = [darknet, faceapi, detect, evaluate, generate, serve, train, exportCkpt, bench, quantize];
