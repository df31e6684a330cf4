// Live: camera or video file frames over the /v1/stream WebSocket, boxes overlaid as results arrive.
// The page sends at a fixed rate whatever the server manages; the server keeps only the newest waiting frame
// (the others count as dropped), so what is shown is always recent. Latency is capture -> result on screen.
import { streamUrl, type StreamResult } from './api.ts';
import { $, errorText, fmt, num } from './dom.ts';
import { drawDetections } from './draw.ts';

const STRIP = 60;

class LiveSession {
  private ws: WebSocket;
  private timer = 0;
  private encoding = false;
  private readonly grab = document.createElement('canvas');
  private readonly sentAt = new Map<number, number>();
  /** answered (true) or dropped (false), last STRIP frames */
  private readonly outcomes: boolean[] = [];
  private sent = 0;
  private results = 0;
  private held = 0;
  private lastAnswered = 0;
  private readonly resultTimes: number[] = [];
  private readonly latencies: number[] = [];

  constructor(private readonly video: HTMLVideoElement, model: string, thresh: number | undefined, private readonly fps: number, private readonly width: number) {
    this.ws = new WebSocket(streamUrl({ model, thresh }));
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => { this.timer = window.setInterval(() => void this.send(), 1000 / this.fps); status('streaming'); };
    this.ws.onmessage = (m) => this.onResult(JSON.parse(String(m.data)) as StreamResult);
    this.ws.onclose = (e) => { window.clearInterval(this.timer); if (e.code !== 1000) status(`stream closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`); };
    this.ws.onerror = () => status('stream error (see the server log)');
  }

  stop(): void {
    window.clearInterval(this.timer);
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }

  private async send(): Promise<void> {
    const v = this.video;
    if (this.ws.readyState !== WebSocket.OPEN || v.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !v.videoWidth) return;
    // the previous frame is still being encoded or still in the socket: skip this tick rather than queue
    if (this.encoding || this.ws.bufferedAmount > 0) { this.held++; return; }
    this.encoding = true;
    try {
      const w = Math.min(this.width, v.videoWidth);
      this.grab.width = w;
      this.grab.height = Math.round((v.videoHeight * w) / v.videoWidth);
      const t = performance.now();
      this.grab.getContext('2d')!.drawImage(v, 0, 0, this.grab.width, this.grab.height);
      const blob = await new Promise<Blob | null>((r) => this.grab.toBlob(r, 'image/jpeg', 0.8));
      if (!blob || this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(await blob.arrayBuffer());
      this.sent++;
      this.sentAt.set(this.sent, t);
    } finally {
      this.encoding = false;
    }
    this.render();
  }

  private onResult(r: StreamResult): void {
    const now = performance.now();
    this.results++;
    // results come in frame order; every frame between two answers was replaced while waiting (dropped)
    const t = this.sentAt.get(r.frame);
    if (t !== undefined) this.latencies.push(now - t);
    for (let f = this.lastAnswered + 1; f < r.frame; f++) this.mark(false, f);
    this.mark(true, r.frame);
    this.lastAnswered = r.frame;
    if (this.latencies.length > 20) this.latencies.shift();
    this.resultTimes.push(now);
    while (this.resultTimes.length && now - this.resultTimes[0] > 3000) this.resultTimes.shift();
    const overlay = $<HTMLCanvasElement>('live-overlay');
    overlay.width = this.video.videoWidth;
    overlay.height = this.video.videoHeight;
    const ctx = overlay.getContext('2d')!;
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (r.error) {
      status(`frame ${r.frame}: ${r.error.message}`);
    } else if (r.detections && r.image) {
      const drawn = drawDetections(ctx, r.detections, overlay.width / r.image.width);
      overlay.dataset.boxes = JSON.stringify(drawn);
      overlay.dataset.frame = String(r.frame);
    }
    $('live-dropped').textContent = String(r.dropped);
    this.render();
  }

  private mark(answered: boolean, frame: number): void {
    this.sentAt.delete(frame);
    this.outcomes.push(answered);
    if (this.outcomes.length > STRIP) this.outcomes.shift();
  }

  private render(): void {
    const rt = this.resultTimes;
    const fps = rt.length > 1 ? ((rt.length - 1) * 1000) / (rt[rt.length - 1] - rt[0]) : 0;
    const lat = this.latencies.length ? this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length : NaN;
    $('live-fps-out').textContent = `${fmt(fps)} fps`;
    $('live-latency').textContent = `${fmt(lat, 0)} ms`;
    $('live-sent').textContent = String(this.sent);
    $('live-results').textContent = String(this.results);
    $('live-held').textContent = String(this.held);
    const strip = $('live-strip');
    strip.replaceChildren(...this.outcomes.map((ok) => {
      const s = document.createElement('span');
      if (!ok) s.className = 'dropped';
      return s;
    }));
    const behind = this.sent - this.lastAnswered;
    $('live-status').textContent = `showing frame ${this.lastAnswered}, ${behind} sent since (sending at ${this.fps} fps)`;
  }
}

let session: LiveSession | undefined;
let stream: MediaStream | undefined;

function status(text: string): void {
  $('live-status').textContent = text;
}

function stop(): void {
  session?.stop();
  session = undefined;
  stream?.getTracks().forEach((t) => t.stop());
  stream = undefined;
  const v = $<HTMLVideoElement>('live-video');
  v.pause();
  v.srcObject = null;
  $<HTMLButtonElement>('live-stop').disabled = true;
}

async function start(source: { camera: true } | { file: File }): Promise<void> {
  stop();
  const v = $<HTMLVideoElement>('live-video');
  try {
    if ('camera' in source) {
      // the back camera on a phone, whatever there is on a laptop
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      v.srcObject = stream;
    } else {
      v.src = URL.createObjectURL(source.file);
      v.loop = true;
    }
    await v.play();
  } catch (e) {
    status(`cannot start the video: ${errorText(e)}`);
    return;
  }
  session = new LiveSession(v, $<HTMLSelectElement>('live-model').value, num($<HTMLInputElement>('live-thresh')),
    Number($<HTMLSelectElement>('live-fps').value), Number($<HTMLSelectElement>('live-width').value));
  $<HTMLButtonElement>('live-stop').disabled = false;
}

export function initLive(): void {
  $('live-camera').addEventListener('click', () => void start({ camera: true }));
  $<HTMLInputElement>('live-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void start({ file: f });
  });
  $('live-stop').addEventListener('click', stop);
  if (!navigator.mediaDevices?.getUserMedia) {
    // camera access needs a secure context (https or localhost)
    $<HTMLButtonElement>('live-camera').disabled = true;
    $('live-camera').title = 'the camera needs https (or localhost)';
  }
}

export function leaveLive(): void {
  stop();
}
