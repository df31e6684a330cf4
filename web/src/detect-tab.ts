// Detect: one image (dropped, picked or pasted) through POST /v1/detect, drawn with its boxes; the JSON beside.
import { detect, type DetectionResponse } from './api.ts';
import { $, errorText, fmt, num } from './dom.ts';
import { boxAt, drawDetections, type DrawnBox } from './draw.ts';

let drawn: DrawnBox[] = [];
let last: { image: Blob } | undefined;

async function run(image: Blob): Promise<void> {
  last = { image };
  const canvas = $<HTMLCanvasElement>('detect-canvas');
  const json = $('detect-json');
  const timing = $('detect-timing');
  canvas.dataset.state = 'busy';
  json.classList.remove('error');
  const t0 = performance.now();
  try {
    const [bitmap, r] = await Promise.all([
      createImageBitmap(image, { imageOrientation: 'from-image' }),
      detect(image, {
        model: $<HTMLSelectElement>('detect-model').value,
        thresh: num($<HTMLInputElement>('detect-thresh')),
        nms: num($<HTMLInputElement>('detect-nms')),
        hier: num($<HTMLInputElement>('detect-hier')),
      }),
    ]);
    const total = performance.now() - t0;
    show(canvas, bitmap, r);
    json.textContent = compactJson(r);
    const t = r.timing_ms;
    timing.textContent = `${r.detections.length} object(s) in ${r.image.width}x${r.image.height}; server: decode ${fmt(t.decode)} ms, `
      + `queue ${fmt(t.queue)} ms, infer ${fmt(t.infer)} ms, post ${fmt(t.post)} ms; round trip ${fmt(total)} ms`;
    canvas.dataset.state = 'done';
  } catch (e) {
    json.textContent = errorText(e);
    json.classList.add('error');
    timing.textContent = '';
    canvas.dataset.state = 'error';
  }
}

// fractions to 3 decimals for reading; the answer itself carries full float precision
const short = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);

/** The answer, one detection per line. */
function compactJson(r: DetectionResponse): string {
  const { detections, ...rest } = r;
  const head = JSON.stringify(rest, short).replace(/}$/, '');
  return `${head},\n "detections": [${detections.map((d) => `\n  ${JSON.stringify(d, short)}`).join(',')}\n ]}`;
}

function show(canvas: HTMLCanvasElement, bitmap: ImageBitmap, r: DetectionResponse): void {
  // drawn at 640-1280 px on the long side whatever the picture's size (CSS fits it to the screen), so
  // labels stay legible on a small scene and a 4K photo does not cost a 4K canvas
  const long = Math.max(bitmap.width, bitmap.height);
  const scale = Math.min(1280, Math.max(640, long)) / long;
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  drawn = drawDetections(ctx, r.detections, canvas.width / r.image.width);
  // what was drawn, for anyone (or any test) reading the page
  canvas.dataset.boxes = JSON.stringify(drawn);
  canvas.dataset.scale = String(canvas.width / r.image.width);
}

function hover(ev: MouseEvent): void {
  const canvas = $<HTMLCanvasElement>('detect-canvas');
  const tip = $('detect-hover');
  const rect = canvas.getBoundingClientRect();
  const k = canvas.width / rect.width;
  const b = boxAt(drawn, (ev.clientX - rect.left) * k, (ev.clientY - rect.top) * k);
  if (!b) { tip.hidden = true; return; }
  tip.hidden = false;
  tip.textContent = b.path ? `${b.label}: ${b.path.join(' > ')}` : b.label;
  tip.style.left = `${ev.clientX - rect.left + 12}px`;
  tip.style.top = `${ev.clientY - rect.top + 12}px`;
}

export function initDetect(): void {
  const drop = $('detect-drop');
  $<HTMLInputElement>('detect-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void run(f);
  });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void run(f);
  });
  document.addEventListener('paste', (e) => {
    if ($('tab-detect').hidden) return;
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
    const f = item?.getAsFile();
    if (f) void run(f);
  });
  // a changed model or threshold re-runs the last image
  for (const id of ['detect-model', 'detect-thresh', 'detect-nms', 'detect-hier']) {
    $(id).addEventListener('change', () => { if (last) void run(last.image); });
  }
  const canvas = $<HTMLCanvasElement>('detect-canvas');
  canvas.addEventListener('mousemove', hover);
  canvas.addEventListener('mouseleave', () => { $('detect-hover').hidden = true; });
}
