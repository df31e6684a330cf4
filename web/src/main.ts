// The console's entry: tabs, and the model pickers filled from GET /v1/models.
import { listModels, type ModelEntry } from './api.ts';
import { initDetect } from './detect-tab.ts';
import { $, errorText } from './dom.ts';
import { initGenerate } from './generate-tab.ts';
import { initLive, leaveLive } from './live-tab.ts';
import { enterModels, leaveModels } from './models-tab.ts';

const DETECTORS = new Set(['yolov1', 'yolov2', 'yolo9000']);
const TABS = ['detect', 'live', 'generate', 'models'] as const;
type Tab = (typeof TABS)[number];

function fill(select: HTMLSelectElement, models: ModelEntry[]): void {
  const keep = select.value;
  select.replaceChildren(...models.map((m) => {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = m.status === 'ready' ? `${m.name} (${m.kind})` : `${m.name} (${m.status})`;
    o.disabled = m.status !== 'ready';
    return o;
  }));
  const ready = models.find((m) => m.status === 'ready');
  select.value = models.some((m) => m.name === keep) ? keep : ready?.name ?? '';
}

async function loadModels(): Promise<void> {
  try {
    const models = await listModels();
    for (const s of document.querySelectorAll<HTMLSelectElement>('select.detector-select')) fill(s, models.filter((m) => m.kind && DETECTORS.has(m.kind)));
    fill($<HTMLSelectElement>('gen-model'), models.filter((m) => m.kind === 'stackgan'));
    fill($<HTMLSelectElement>('wgan-model'), models.filter((m) => m.kind === 'wgan'));
    document.body.dataset.models = 'loaded';
  } catch (e) {
    $('detect-timing').textContent = `cannot list the models: ${errorText(e)}`;
  }
}

function show(tab: Tab): void {
  for (const t of TABS) {
    $(`tab-${t}`).hidden = t !== tab;
    document.querySelector(`nav [data-tab="${t}"]`)!.setAttribute('aria-selected', String(t === tab));
  }
  if (tab === 'models') enterModels(); else leaveModels();
  if (tab !== 'live') leaveLive();
  history.replaceState(null, '', `#${tab}`);
}

for (const b of document.querySelectorAll<HTMLButtonElement>('nav [data-tab]')) b.addEventListener('click', () => show(b.dataset.tab as Tab));
initDetect();
initLive();
initGenerate();
void loadModels().then(() => {
  const start = location.hash.slice(1);
  show((TABS as readonly string[]).includes(start) ? (start as Tab) : 'detect');
});
