// Models: every model folder the server found (GET /v1/models) with status, provider, error and model.json
// metrics, plus live Prometheus figures from GET /metrics, refreshed every 2 s while the tab is open.
import { listModels, metricsText, type ModelEntry } from './api.ts';
import { $, errorText, fmt } from './dom.ts';
import { figures, parseProm, rates, type ModelFigures } from './prom.ts';

const PERIOD_MS = 2000;
let timer = 0;
let prev: { at: number; per: Map<string, ModelFigures> } | undefined;

function row(k: string, v: string, cls = ''): string {
  // long notes (how a figure was measured) stay short, the whole text in the tooltip; an error is shown whole
  const shown = v.length > 60 && cls !== 'error' ? `${v.slice(0, 57)}...` : v;
  return `<tr><td>${esc(k)}</td><td class="${cls}" title="${esc(v)}">${esc(shown)}</td></tr>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function metricValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function card(m: ModelEntry, f: ModelFigures, r: { imagesPerSec?: number; avgBatch?: number }): string {
  const rows = [
    row('kind', m.kind ?? '?'),
    row('provider', m.ep ?? '-'),
    m.input ? row('input', `${m.input.width}x${m.input.height}x${m.input.channels}`) : '',
    m.classes !== undefined ? row('classes', String(m.classes)) : '',
    m.max_batch !== undefined ? row('max batch', String(m.max_batch)) : '',
    m.source ? row('source', m.source) : '',
    m.error ? row('error', m.error, 'error') : '',
    row('images/s', r.imagesPerSec === undefined ? '-' : fmt(r.imagesPerSec)),
    row('queue depth', f.queueDepth === undefined ? '-' : String(f.queueDepth)),
    row('avg batch', r.avgBatch === undefined ? (f.images && f.batches ? `${fmt(f.images / f.batches, 2)} (all time)` : '-') : fmt(r.avgBatch, 2)),
    row('images (total)', f.images === undefined ? '-' : String(f.images)),
  ];
  // model.json metrics: the flat figures (mAP, training steps, ...); nested tables are left to the JSON
  for (const [k, v] of Object.entries(m.metrics ?? {})) if (typeof v !== 'object' || v === null) rows.push(row(k, metricValue(v)));
  return `<div class="card" data-model="${esc(m.name)}"><h3><span>${esc(m.name)}</span><span class="status-${m.status}">${m.status}</span></h3><table>${rows.join('')}</table></div>`;
}

async function refresh(): Promise<void> {
  const out = $('models-list');
  try {
    const [models, text] = await Promise.all([listModels(), metricsText()]);
    const samples = parseProm(text);
    const now = performance.now();
    const per = new Map(models.map((m) => [m.name, figures(samples, m.name)]));
    const secs = prev ? (now - prev.at) / 1000 : 0;
    out.innerHTML = models.map((m) => card(m, per.get(m.name)!, rates(prev?.per.get(m.name), per.get(m.name)!, secs))).join('')
      || '<p>No model folders are loaded.</p>';
    prev = { at: now, per };
    $('models-updated').textContent = `${models.length} model(s); updated ${new Date().toLocaleTimeString()}, every ${PERIOD_MS / 1000} s`;
  } catch (e) {
    $('models-updated').textContent = `cannot read the models: ${errorText(e)}`;
  }
}

export function enterModels(): void {
  if (timer) return;
  void refresh();
  timer = window.setInterval(() => void refresh(), PERIOD_MS);
}

export function leaveModels(): void {
  window.clearInterval(timer);
  timer = 0;
  prev = undefined;
}
