// Generate: text -> image with a StackGAN model (stage 1 and stage 2 of the same seed side by side) and a
// grid of WGAN samples.
import { generate, sample } from './api.ts';
import { $, errorText } from './dom.ts';

const MAX_SEED = 2 ** 32 - 1;

function showBlob(img: HTMLImageElement, blob: Blob): Promise<void> {
  const old = img.src;
  img.src = URL.createObjectURL(blob);
  if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  return img.decode().catch(() => {});
}

function status(text: string, bad = false): void {
  const s = $('gen-status');
  s.textContent = text;
  s.classList.toggle('error', bad);
}

async function runStackGan(): Promise<void> {
  const model = $<HTMLSelectElement>('gen-model').value;
  const text = $<HTMLInputElement>('gen-text').value;
  const seed = Number($<HTMLInputElement>('gen-seed').value);
  if (!model) return status('no stackgan model is loaded', true);
  status('generating...');
  const t0 = performance.now();
  try {
    const [s1, s2] = await Promise.all([generate(model, text, seed, 1), generate(model, text, seed, 2)]);
    await Promise.all([showBlob($<HTMLImageElement>('gen-stage1'), s1), showBlob($<HTMLImageElement>('gen-stage2'), s2)]);
    status(`"${text}", seed ${seed}: ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    status(errorText(e), true);
  }
}

async function runWgan(): Promise<void> {
  const model = $<HTMLSelectElement>('wgan-model').value;
  if (!model) return status('no wgan model is loaded', true);
  const n = Number($<HTMLInputElement>('wgan-n').value);
  const seed = Number($<HTMLInputElement>('wgan-seed').value);
  status('sampling...');
  const t0 = performance.now();
  try {
    await showBlob($<HTMLImageElement>('wgan-grid'), await sample(model, seed, n));
    status(`${n} sample(s), seed ${seed}: ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    status(errorText(e), true);
  }
}

export function initGenerate(): void {
  $('gen-go').addEventListener('click', () => void runStackGan());
  $('gen-text').addEventListener('keydown', (e) => { if (e.key === 'Enter') void runStackGan(); });
  $('gen-random').addEventListener('click', () => {
    $<HTMLInputElement>('gen-seed').value = String(Math.floor(Math.random() * MAX_SEED));
    void runStackGan();
  });
  $('wgan-go').addEventListener('click', () => void runWgan());
}
