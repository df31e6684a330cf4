// `pinhole detect --save DIR` for images: each input written to DIR with its detections drawn, under its own
// name (PNG stays PNG, other formats become JPEG); two inputs with one name get -2, -3, ...
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { annotate, formatOf } from '../runtime/annotate.ts';
import type { DetectionResponse } from '../runtime/types.ts';

export class AnnotatedWriter {
  private readonly used = new Set<string>();
  private made?: Promise<unknown>;

  constructor(readonly dir: string) {}

  /** Writes the annotated image and returns its path. */
  async write(name: string, image: Uint8Array, r: DetectionResponse): Promise<string> {
    const format = (await formatOf(image)) === 'png' ? 'png' : 'jpeg';
    const stem = name === '-' ? 'stdin' : basename(name, extname(name));
    const file = this.unique(`${stem}.${format === 'png' ? 'png' : 'jpg'}`);
    this.made ??= mkdir(this.dir, { recursive: true });
    await this.made;
    await writeFile(file, await annotate(image, r.detections, format));
    return file;
  }

  private unique(file: string): string {
    const ext = extname(file), stem = file.slice(0, -ext.length);
    let name = file;
    for (let k = 2; this.used.has(name); k++) name = `${stem}-${k}${ext}`;
    this.used.add(name);
    return join(this.dir, name);
  }
}
