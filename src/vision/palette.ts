// One colour per class id, shared by the annotated images (src/runtime/annotate.ts) and the web console
// (web/), so a class looks the same everywhere. Golden-angle hue steps keep neighbouring ids apart for any
// class count (16 synth shapes or 9418 YOLO9000 nodes) without a table.

/** `#rrggbb` for a class id. */
export function classColour(classId: number): string {
  const h = (((classId * 137.508) % 360) + 360) % 360;
  // two lightness bands so ids 180 degrees apart on the wheel still differ
  const l = classId % 2 === 0 ? 0.5 : 0.42;
  return hslHex(h, 0.85, l);
}

/** Black or white, whichever reads better on `hex`. */
export function textColour(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const r = (n >> 16) & 255, g = (n >> 8) & 255, b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000000' : '#ffffff';
}

function hslHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}
